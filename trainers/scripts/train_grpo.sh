#!/usr/bin/env bash
# GRPO training of a Qwen-VL policy against the VideoSTAR env with verl (the paper's settings).
#
#   one node:   MODEL=Qwen/Qwen2.5-VL-7B-Instruct GPUS=8 trainers/scripts/train_grpo.sh   (the paper's policy)
#               MODEL=Qwen/Qwen3-VL-8B-Instruct trainers/scripts/train_grpo.sh
#               MODEL=Qwen/Qwen3-VL-8B-Thinking REASONING=qwen3 trainers/scripts/train_grpo.sh
#               MODEL=Qwen/Qwen3.5-27B REASONING=qwen3 ROLLOUT=sglang trainers/scripts/train_grpo.sh
#               (Qwen3.5's template thinks by default, as Qwen3-VL Thinking's: its rows want REASONING=qwen3)
#   multi-node: start Ray first (head: `ray start --head`; workers: `ray start --address=HEAD:6379`), then on
#               the head: RAY_ADDRESS=HEAD:6379 NNODES=4 GPUS=8 trainers/scripts/train_grpo.sh
# ROLLOUT: verl's rollout back-end, vllm (default) or sglang. EXPERIMENT: the run's name (default grpo_<model folder>).
# TRAIN_FILES / VAL_FILES: the `videostar verl-data` parquet, written here when the training file is absent, with
# the reasoning form REASONING (paper, default; qwen3 for a Thinking template, which opens <think> itself): the
# rows carry it, so the env in the agent loop and the reward read the policy's turns the same way.
# Ray runs a set-up hook as each worker process starts (trainers/verl_fixes.py): our fix of verl #6073 (M-RoPE
# position ids of equal-length batches) and the worker's process settings (trainers/process.py) in every process,
# and with PRELOAD=1 (default) the libraries envs load, so an agent-loop worker has imported torch, ultralytics,
# OpenCV and the decoders before its event loop serves (imported later, they stall it for up to 0.2 s); PRELOAD=0
# leaves the preload out.
# Extra Hydra overrides pass through, e.g. trainer.total_training_steps=100.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL="${MODEL:-Qwen/Qwen2.5-VL-7B-Instruct}"
TRAIN="${TRAIN_FILES:-data/videostar_train.parquet}"
VAL="${VAL_FILES:-data/videostar_val.parquet}"
export FORCE_QWENVL_VIDEO_READER="${FORCE_QWENVL_VIDEO_READER:-decord}"  # torchcodec needs a system FFmpeg
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ ! -f "$TRAIN" ]; then
    OPTIONS="{\"task_options\": {\"reasoning\": \"${REASONING:-paper}\"}}"
    videostar verl-data --out "$TRAIN" --split base --env-options "$OPTIONS"
    videostar verl-data --out "$VAL" --split novel --limit 64 --env-options "$OPTIONS"
fi
HOOK=videostar_trainers.verl_fixes.setup_worker_without_preload
if [ "${PRELOAD:-1}" = 1 ]; then
    HOOK=videostar_trainers.verl_fixes.setup_worker
fi
exec python -m verl.trainer.main_ppo \
    --config-path "$PWD/trainers/config" --config-name videostar_grpo \
    actor_rollout_ref.model.path="$MODEL" \
    actor_rollout_ref.rollout.name="${ROLLOUT:-vllm}" \
    trainer.experiment_name="${EXPERIMENT:-grpo_$(basename "$MODEL")}" \
    data.train_files="$TRAIN" data.val_files="$VAL" \
    trainer.nnodes="${NNODES:-1}" trainer.n_gpus_per_node="${GPUS:-8}" \
    +ray_kwargs.ray_init.runtime_env.worker_process_setup_hook="$HOOK" "$@"
