"""verl 0.9.1 nests M-RoPE position ids on the wrong dimension when a batch's sequences have one length
(verl #6073); trainers/verl_fixes.py nests them on the sequence dimension always."""

import pytest
import torch

pytest.importorskip("verl", reason="the verl extra: pip install 'videostar-env[verl]'")

from tensordict import TensorDict  # noqa: E402
from verl.utils import tensordict_utils as tu  # noqa: E402
from verl.utils.tensordict_utils import maybe_fix_3d_position_ids  # noqa: E402

from videostar_trainers import verl_fixes  # noqa: E402


def padded_batch(lengths, width=8, response=3):
    """Left-padded sequences of the given lengths with M-RoPE position ids (batch, 4, width), as verl pads them."""
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, width - n:] = 1
    positions = torch.stack([torch.stack([torch.cumsum(m, 0) - 1 + 100 * r for r in range(4)]) for m in mask])
    return TensorDict({"input_ids": torch.arange(len(lengths) * width).view(len(lengths), width),
                       "attention_mask": mask, "response_mask": mask[:, -response:],
                       "position_ids": positions}, batch_size=[len(lengths)])


def unpadded(function, lengths):
    """The position ids of each sequence after a left_right_2_no_padding and verl's own 3-D fix."""
    data = function(padded_batch(lengths))
    maybe_fix_3d_position_ids(data)
    return [t for t in data["position_ids"].unbind()]


def plain():
    verl_fixes.install()
    from verl.workers.utils import padding

    return padding.left_right_2_no_padding.__wrapped__


@pytest.mark.parametrize("lengths", [[5, 5], [6, 6, 6], [5]])
def test_plain_verl_breaks_on_mrope_batches_of_one_length(lengths):
    with pytest.raises(RuntimeError):
        unpadded(plain(), lengths)


@pytest.mark.parametrize("lengths", [[5, 5], [6, 6, 6], [5], [4, 7, 2]])
def test_the_fix_keeps_each_sequences_position_ids(lengths):
    from verl.workers.utils import padding

    verl_fixes.install()
    batch = padded_batch(lengths)
    for i, ids in enumerate(unpadded(padding.left_right_2_no_padding, lengths)):
        assert torch.equal(ids, batch["position_ids"][i][:, batch["attention_mask"][i].bool()])


def test_the_fix_survives_verls_mini_batch_split():
    from verl.workers.utils import padding

    verl_fixes.install()
    data = padding.left_right_2_no_padding(padded_batch([5, 5, 5, 5]))
    for mini in tu.make_iterator(data, mini_batch_size=2, epochs=1, seed=0, dataloader_kwargs={"shuffle": False}):
        maybe_fix_3d_position_ids(mini)
        assert [t.shape for t in mini["position_ids"].unbind()] == [(4, 5), (4, 5)]


def test_install_reaches_every_caller_and_is_idempotent():
    import importlib

    verl_fixes.install()
    verl_fixes.install()
    functions = {importlib.import_module(name).left_right_2_no_padding for name in verl_fixes.CALLERS}
    assert len(functions) == 1 and next(iter(functions)).videostar_fix
    assert not getattr(next(iter(functions)).__wrapped__, "videostar_fix", False)


def test_pass_second_per_grid_gives_qwen25_vl_processors_the_hook_and_leaves_others_alone():
    from types import SimpleNamespace

    from videostar_trainers.verl_fixes import pass_second_per_grid

    qwen25 = SimpleNamespace(model_input_names=["input_ids", "pixel_values_videos", "second_per_grid_ts"])
    pass_second_per_grid(qwen25)
    assert qwen25.get_rope_index_kwargs({"second_per_grid_ts": [0.4, 1.6]}) == {"second_per_grid_ts": [0.4, 1.6]}
    assert qwen25.get_rope_index_kwargs({}) == {}  # images only: nothing to add
    qwen3 = SimpleNamespace(model_input_names=["input_ids", "pixel_values_videos"])  # times in the text instead
    pass_second_per_grid(qwen3)
    assert not hasattr(qwen3, "get_rope_index_kwargs")
    def own(inputs):
        return {"theirs": 1}
    hooked = SimpleNamespace(model_input_names=["second_per_grid_ts"], get_rope_index_kwargs=own)
    pass_second_per_grid(hooked)
    assert hooked.get_rope_index_kwargs is own  # a processor's own hook is kept
