"""Knowledge-base entries for the synthetic classes.

Definitions, phases and sub-motions are written the way the paper's action-explanation tool
redefines a label. Signatures are feature ranges (perception/kinematics.py) wide enough to hold
every rendered variation of the class, found by measuring 25 renders per class at 16 frames.
"""

from __future__ import annotations

from ...knowledge import ActionEntry, KnowledgeBase

_ENTRIES = [
    ActionEntry(
        "wave", "A person raises one hand above the head and swings the forearm side to side while the rest of the body stays still.",
        aliases=("waving", "hand wave", "wave hand"),
        phases=("one arm lifts until the hand is above the head", "the wrist swings left and right from the elbow", "the legs and torso stay still"),
        submotions=(("Wrist", "swings side to side above the head"), ("Elbow", "bends and straightens as the forearm swings"), ("Shoulder", "raises one arm overhead")),
        signature={"hands_above_head": (0.8, 1.0), "arm_asymmetry": (0.6, 1.0), "ankle_motion": (0.0, 0.03), "centre_horizontal_travel": (0.0, 0.15)},
    ),
    ActionEntry(
        "clap", "A person brings both hands together in front of the chest and apart again, repeatedly, while standing still.",
        aliases=("clapping", "clap hands", "applaud"),
        phases=("both hands open apart at chest height", "the hands meet in front of the chest", "the hands separate and the cycle repeats"),
        submotions=(("Wrist", "both hands meet and part in front of the chest"), ("Elbow", "bends slightly as the hands come together"), ("Arm", "moves symmetrically towards the body centre")),
        signature={"wrist_distance_min": (0.0, 0.08), "wrist_distance_max": (0.15, 0.45), "hands_above_head": (0.0, 0.1), "ankle_motion": (0.0, 0.03)},
    ),
    ActionEntry(
        "squat", "A person bends the knees and lowers the hips towards the floor with the arms forward, then straightens the legs to rise again, repeatedly.",
        aliases=("squatting", "squats", "deep squat"),
        phases=("standing, the arms reach forward", "the knees bend and the hips drop", "the legs straighten and the body rises back up"),
        submotions=(("Knee", "bends deeply and straightens"), ("Hip", "lowers towards the floor and rises"), ("Arm", "reaches forward for balance"), ("Ankle", "stays planted on the floor")),
        signature={"centre_vertical_range": (0.12, 0.4), "centre_vertical_trend": (-0.13, 0.13), "knee_angle_range": (70.0, 130.0), "elbow_angle_range": (85.0, 130.0), "wrist_motion": (0.05, 0.1)},
    ),
    ActionEntry(
        "sit_down", "A person lowers the hips from standing into a seated position by bending the knees, and stays down.",
        aliases=("sit down", "sitting down", "sit"),
        phases=("standing upright", "the knees bend and the hips descend", "the hips stay low in a seated posture"),
        submotions=(("Hip", "descends and stays low"), ("Knee", "bends from straight to a right angle"), ("Torso", "leans slightly forward while lowering"), ("Hand", "moves to rest on the thighs")),
        signature={"centre_vertical_trend": (-0.4, -0.08), "centre_vertical_range": (0.12, 0.4), "knee_angle_range": (80.0, 130.0), "torso_shortening": (0.04, 0.2)},
    ),
    ActionEntry(
        "stand_up", "A person rises from a seated position to standing by straightening the knees and lifting the hips.",
        aliases=("stand up", "standing up", "get up"),
        phases=("seated with bent knees", "the legs push and the hips rise", "standing upright"),
        submotions=(("Hip", "rises from low to standing height"), ("Knee", "straightens from bent"), ("Torso", "returns upright from a slight forward lean"), ("Hand", "leaves the thighs")),
        signature={"centre_vertical_trend": (0.08, 0.4), "centre_vertical_range": (0.12, 0.4), "knee_angle_range": (80.0, 130.0), "torso_shortening": (0.04, 0.2)},
    ),
    ActionEntry(
        "jump", "A person crouches slightly and springs straight up with both feet leaving the ground, the arms staying at the sides, repeatedly.",
        aliases=("jumping", "jump up", "hop"),
        phases=("a small crouch with bent knees", "both legs extend and the body leaves the ground", "landing on both feet"),
        submotions=(("Knee", "bends before take-off and extends"), ("Ankle", "both feet leave and return to the ground together"), ("Hip", "rises and falls vertically")),
        signature={"centre_vertical_range": (0.1, 0.35), "knee_angle_range": (35.0, 70.0), "ankle_spread_range": (0.0, 0.05), "hands_above_head": (0.0, 0.1), "wrist_motion": (0.0, 0.04)},
    ),
    ActionEntry(
        "jumping_jacks", "A person jumps while spreading the legs apart and swinging the straight arms up above the head, then jumps back with the legs together and the arms down.",
        aliases=("jumping jack", "jumping jacks", "star jumps"),
        phases=("standing with the feet together and the arms down", "a jump that spreads the feet and swings the arms overhead", "a jump back to the feet together and the arms down"),
        submotions=(("Arm", "swings straight from the sides to above the head"), ("Ankle", "the feet spread apart and come back together"), ("Wrist", "rises above the head"), ("Hip", "bounces up and down")),
        signature={"ankle_spread_range": (0.2, 0.45), "hands_above_head": (0.15, 0.7), "wrist_distance_max": (0.7, 1.0), "knee_angle_range": (0.0, 25.0), "centre_horizontal_travel": (0.0, 0.15)},
    ),
    ActionEntry(
        "punch", "A person in a fighting stance extends a fist forcefully away from the body at shoulder height and pulls it back, alternating arms.",
        aliases=("punching", "boxing", "jab"),
        phases=("the fists are held up near the chin", "one arm extends quickly to strike", "the arm retracts to guard while the other strikes"),
        submotions=(("Elbow", "extends fully and bends back"), ("Wrist", "drives the fist out at shoulder height"), ("Shoulder", "pushes the arm forward"), ("Ankle", "feet stay apart in a stance")),
        signature={"elbow_angle_range": (70.0, 180.0), "wrist_distance_min": (0.08, 0.22), "wrist_motion": (0.08, 0.18), "hands_above_head": (0.0, 0.1), "ankle_motion": (0.0, 0.03)},
    ),
    ActionEntry(
        "kick", "A person balances on one leg and swings the other leg up and out with force, then brings it back down.",
        aliases=("kicking", "kick leg", "side kick"),
        phases=("standing on both feet", "one leg lifts and swings out", "the leg returns to the ground"),
        submotions=(("Ankle", "one foot swings up and out"), ("Knee", "bends then extends to strike"), ("Hip", "lifts the leg"), ("Arm", "spreads for balance")),
        signature={"leg_asymmetry": (0.5, 1.0), "ankle_motion": (0.1, 0.25), "knee_angle_range": (60.0, 110.0)},
    ),
    ActionEntry(
        "walk", "A person moves across the scene at a steady pace, legs stepping alternately with a small arm swing.",
        aliases=("walking", "walk forward", "stroll"),
        phases=("one foot steps ahead", "the weight shifts onto it", "the other foot steps ahead"),
        submotions=(("Ankle", "the feet step alternately"), ("Knee", "bends a little with each step"), ("Hip", "travels steadily across the scene"), ("Arm", "swings gently opposite the legs")),
        signature={"centre_horizontal_travel": (0.15, 0.55), "ankle_spread_range": (0.15, 0.35), "knee_angle_range": (30.0, 70.0), "wrist_motion": (0.02, 0.08)},
    ),
    ActionEntry(
        "run", "A person moves quickly across the scene with long strides, high knee bend, feet leaving the ground and bent arms pumping.",
        aliases=("running", "jog", "jogging", "sprint"),
        phases=("push-off from one foot", "a flight phase with both feet off the ground", "landing on the other foot"),
        submotions=(("Knee", "bends strongly with each stride"), ("Ankle", "the feet lift high off the ground"), ("Elbow", "bent arms pump back and forth"), ("Hip", "travels fast across the scene")),
        signature={"centre_horizontal_travel": (0.55, 1.2), "knee_angle_range": (70.0, 110.0), "elbow_angle_range": (70.0, 120.0), "wrist_motion": (0.08, 0.15)},
    ),
    ActionEntry(
        "raise_arms", "A person lifts both straight arms from the sides up above the head and holds them there.",
        aliases=("raise arms", "raising arms", "hands up", "raise both hands"),
        phases=("the arms hang at the sides", "both arms sweep up sideways", "the hands stay above the head"),
        submotions=(("Arm", "both arms sweep up and stay overhead"), ("Wrist", "ends above the head"), ("Shoulder", "rotates the arms upward")),
        signature={"hands_above_head_end": (0.8, 1.0), "hands_above_head": (0.3, 0.8), "wrist_motion": (0.2, 0.35), "arm_asymmetry": (0.0, 0.3), "ankle_spread_range": (0.0, 0.05)},
    ),
    ActionEntry(
        "bow", "A person bends the upper body forward at the hips, lowering the head, then straightens up again.",
        aliases=("bowing", "bow down", "take a bow"),
        phases=("standing upright", "the torso bends forward and the head lowers", "the torso returns upright"),
        submotions=(("Torso", "bends forward at the hips and returns"), ("Head", "lowers and rises"), ("Hip", "hinges while the feet stay still")),
        signature={"torso_shortening": (0.2, 0.6), "knee_angle_range": (15.0, 50.0), "wrist_motion": (0.0, 0.05)},
    ),
    ActionEntry(
        "arm_circles", "A person holds both arms out to the sides and rotates them in circles at the shoulders while standing still.",
        aliases=("arm circles", "arm circling", "circle arms"),
        phases=("both arms extend out to the sides", "the arms trace circles around the shoulders", "the circling repeats"),
        submotions=(("Shoulder", "rotates the arms in circles"), ("Wrist", "traces a circle out to the side"), ("Arm", "stays extended out to the sides")),
        signature={"wrist_distance_min": (0.5, 0.7), "elbow_angle_range": (50.0, 100.0), "wrist_motion": (0.12, 0.22), "hands_above_head": (0.1, 0.5), "arm_asymmetry": (0.0, 0.3)},
    ),
]

KNOWLEDGE = KnowledgeBase(_ENTRIES)
