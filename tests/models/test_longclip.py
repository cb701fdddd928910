"""LongCLIP-style (248-token) text towers, as in FarSLIP and LRSCLIP checkpoints (LRSCLIP,
HF cwz14/LRSCLIP_ViT-B-16: a plain LongCLIP state dict, no masks; FarSLIP's training
checkpoints with masks: test_weight_containers.py)."""
import torch

from conftest import TINY_CFG, TINY_PT
from segearth_ov.models.backbones.builder import build_clip
from segearth_ov.models.text.embeddings import encode_text
from weight_containers import KEPT, LONG_CONTEXT as CONTEXT, longclip_state, tiny_state


def write_longclip_checkpoint(path):
    """The tiny CLIP with LongCLIP's two 248-row text position tables, as a plain state dict
    (LRSCLIP's container)."""
    state = longclip_state(tiny_state(), with_masks=False)
    torch.save(state, path)
    return state


def longclip_encode_text(model, tokens, table, res):
    """LongCLIP's own formula: positions < 20 from `table`, the rest from `res`, full context."""
    mask1 = torch.zeros(CONTEXT, 1)
    mask1[:KEPT] = 1
    x = model.token_embedding(tokens) + table * mask1 + res * (1 - mask1)
    x = model.transformer(x, attn_mask=model.attn_mask)
    x = model.ln_final(x)
    return x[torch.arange(x.shape[0]), tokens.argmax(-1)] @ model.text_projection


def test_longclip_checkpoint_builds_a_248_token_text_tower(tmp_path):
    state = write_longclip_checkpoint(tmp_path / 'longclip.pt')
    model, tokenizer, _ = build_clip('CLIP', 'ViT-B/16', pretrained=str(tmp_path / 'longclip.pt'),
                                     model_cfg=str(TINY_CFG))
    assert model.positional_embedding.shape[0] == CONTEXT and tokenizer.context_length == CONTEXT
    assert torch.equal(model.positional_embedding[:KEPT], state['positional_embedding'][:KEPT])
    assert torch.equal(model.positional_embedding[KEPT:], state['positional_embedding_res'][KEPT:])

    long_prompt = 'a satellite photo of ' + ' and '.join(['a red roof'] * 30)  # > 77 tokens
    tokens = tokenizer([long_prompt, 'a photo of a road.'])
    assert int(tokens[0].argmax()) > 77
    with torch.no_grad():
        expected = longclip_encode_text(model, tokens, state['positional_embedding'],
                                        state['positional_embedding_res'])
        got = encode_text(model, tokens)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_short_prompts_are_unchanged_by_the_longer_context(tmp_path):
    """Prompts under 20 tokens only see CLIP's own positions: same features as the 77 model."""
    write_longclip_checkpoint(tmp_path / 'longclip.pt')
    long_model, long_tok, _ = build_clip('CLIP', 'ViT-B/16', pretrained=str(tmp_path / 'longclip.pt'),
                                         model_cfg=str(TINY_CFG))
    model, tok, _ = build_clip('CLIP', 'ViT-B/16', pretrained=str(TINY_PT), model_cfg=str(TINY_CFG))
    prompts = ['a photo of a building.', 'a satellite image of water.']
    with torch.no_grad():
        torch.testing.assert_close(encode_text(long_model, long_tok(prompts)),
                                   encode_text(model, tok(prompts)))


def test_segmentor_runs_on_a_longclip_checkpoint(tmp_path):
    from conftest import tiny_segmentor
    write_longclip_checkpoint(tmp_path / 'longclip.pt')
    seg = tiny_segmentor(['road', 'water'], pretrained=str(tmp_path / 'longclip.pt'))
    labels = seg.predict(torch.randn(1, 3, 64, 64))
    assert labels.shape == (1, 64, 64) and set(labels.unique().tolist()) <= {0, 1}
