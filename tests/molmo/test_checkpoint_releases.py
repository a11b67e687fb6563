"""The four Molmo 0924 releases in their Hugging Face layout: tiny checkpoints written as released load through
`molmo:PATH`, and their text decoder computes what transformers' own Qwen2 / OLMo-2 / OLMoE compute from the same
tensors, renamed here after the releases' remote code (docs/checkpoints.md)."""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from evals.adapters import GenerationRequest, load_adapter
from evals.tiny_models import MOLMO_IMAGE_TOKENS, MOLMO_RELEASES, save_tiny_molmo_release
from molmo.checkpoint import from_pretrained, load_hf_layout, load_tokenizer, save_hf_layout
from molmo.config import get_preset
from molmo.release_config import config_from_release, release_config

DATA = Path(__file__).parent / "data"
PUBLISHED = {name: json.loads((DATA / f"{name}.config.json").read_text())
             for name in ("Molmo-7B-D-0924", "MolmoE-1B-0924")}
PRESETS = {"Molmo-7B-D-0924": "Molmo-7B-D", "Molmo-7B-O-0924": "Molmo-7B-O", "Molmo-72B-0924": "Molmo-72B",
           "MolmoE-1B-0924": "MolmoE-1B"}
SCHEMA = {"Molmo-7B-D-0924": "Molmo-7B-D-0924", "Molmo-7B-O-0924": "Molmo-7B-D-0924",
          "Molmo-72B-0924": "Molmo-7B-D-0924", "MolmoE-1B-0924": "MolmoE-1B-0924"}  # whose config keys each uses
# The files each release's repository holds, less the remote code (*.py) and with the shards counted apart.
FILES = {
    "qwen2": {"config.json", "generation_config.json", "preprocessor_config.json", "processor_config.json",
              "model.safetensors.index.json", "added_tokens.json", "special_tokens_map.json", "tokenizer.json",
              "tokenizer_config.json", "vocab.json", "merges.txt"},
    "other": {"config.json", "generation_config.json", "preprocessor_config.json", "processor_config.json",
              "model.safetensors.index.json", "added_tokens.json", "special_tokens_map.json", "tokenizer.json",
              "tokenizer_config.json"},
}

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: one thread beats several


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("releases")
    return {name: save_tiny_molmo_release(name, root / name, seed=3) for name in MOLMO_RELEASES}


def _tensors(folder: Path) -> dict[str, torch.Tensor]:
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    tensors = {}
    for file in sorted(set(index["weight_map"].values())):
        tensors.update(load_file(folder / file))
    return tensors


# ---------------------------------------------------------------------------------------------------------------
# The files, as released.


def _types(value):
    """The JSON type of every value, nested dicts key by key (null stays apart from int, int from float)."""
    if isinstance(value, dict):
        return {key: _types(item) for key, item in value.items()}
    return type(value).__name__


def test_published_configs_are_the_presets():
    assert release_config(get_preset("Molmo-7B-D")) == PUBLISHED["Molmo-7B-D-0924"]
    assert config_from_release(PUBLISHED["Molmo-7B-D-0924"]) == get_preset("Molmo-7B-D")
    assert release_config(get_preset("MolmoE-1B"), vocab_size=50280) == PUBLISHED["MolmoE-1B-0924"]
    assert config_from_release(PUBLISHED["MolmoE-1B-0924"]) == get_preset("MolmoE-1B")


@pytest.mark.parametrize("name", MOLMO_RELEASES)
def test_config_keys_and_value_types_are_the_releases(releases, name):
    data = json.loads((releases[name] / "config.json").read_text())
    published = PUBLISHED[SCHEMA[name]]
    if "vision_backbone" not in published:  # the tiny ViT is described the way MolmoE's file describes its ViT
        molmoe = PUBLISHED["MolmoE-1B-0924"]
        published = {**published, "vision_backbone": molmoe["vision_backbone"], "vit_layers": molmoe["vit_layers"]}
    assert _types(data) == _types(published)
    assert data["auto_map"] == published["auto_map"] and data["architectures"] == published["architectures"]
    assert data["model_type"] == "molmo"
    assert config_from_release(data).llm.kind == get_preset(PRESETS[name]).llm.kind


@pytest.mark.parametrize("name", MOLMO_RELEASES)
def test_files_shards_and_index(releases, name):
    folder = releases[name]
    family = "qwen2" if get_preset(PRESETS[name]).llm.kind == "qwen2" else "other"
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) >= 2 and shards == [f"model-{i:05d}-of-{len(shards):05d}.safetensors"
                                           for i in range(1, len(shards) + 1)]
    assert {p.name for p in folder.iterdir()} == FILES[family] | set(shards)
    total = 0
    for shard in shards:
        with safe_open(folder / shard, framework="pt") as handle:
            assert handle.metadata() == {"format": "pt"}
            for key in handle.keys():  # noqa: SIM118 (safe_open is not a mapping)
                assert index["weight_map"][key] == shard
                tensor = handle.get_tensor(key)
                assert tensor.dtype == torch.bfloat16
                total += tensor.numel() * tensor.element_size()
    assert index["metadata"] == {"total_size": total}
    preprocessor = json.loads((folder / "preprocessor_config.json").read_text())
    assert preprocessor["auto_map"]["AutoImageProcessor"] == "image_preprocessing_molmo.MolmoImageProcessor"
    assert (preprocessor["max_crops"], preprocessor["overlap_margins"]) == (12, [4, 4])


def _expected_names(data: dict) -> set[str]:
    """Every tensor name the release's remote code defines for this config.json, spelled out from its modules."""
    vit, moe = "model.vision_backbone.image_vit.", "d_model" in data
    layers = data["n_layers"] if moe else data["num_hidden_layers"]
    vit_layers = data["vision_backbone"]["image_num_layers"]
    names = {f"{vit}{n}" for n in ("class_embedding", "positional_embedding", "patch_embedding.weight",
                                   "pre_ln.weight", "pre_ln.bias")}
    names |= {f"{vit}transformer.resblocks.{r}.{module}.{p}" for r in range(vit_layers) for p in ("weight", "bias")
              for module in ("attention.wq", "attention.wk", "attention.wv", "attention.wo", "attention_norm",
                             "ffn_norm", "feed_forward.w1", "feed_forward.w2")}
    names |= {"model.vision_backbone.pad_embed", *(f"model.vision_backbone.image_pooling_2d.w{x}.{p}" for x in "qkvo"
                                                   for p in ("weight", "bias")),
              *(f"model.vision_backbone.image_projector.w{i}.weight" for i in (1, 2, 3))}
    names |= {"model.transformer.wte.embedding", "model.transformer.wte.new_embedding", "model.transformer.ln_f.weight"}
    for n in range(layers):
        block = f"model.transformer.blocks.{n}."
        if moe:
            names |= {f"{block}attn.{m}.weight" for m in ("att_proj", "attn_out", "attn_norm", "q_norm", "k_norm")}
            names |= {f"{block}mlp.ff_norm.weight", f"{block}mlp.gate.weight"}
            names |= {f"{block}mlp.experts.{e}.{p}_proj.weight" for e in range(data["moe_num_experts"])
                      for p in ("gate", "up", "down")}
        else:
            names |= {f"{block}{m}.weight" for m in ("att_proj", "attn_out", "attn_norm", "ff_norm", "ff_proj",
                                                      "ff_out")}
            qkv_extra = ("att_proj.bias",) if data["qkv_bias"] else ("q_norm.weight", "k_norm.weight")
            names |= {f"{block}{extra}" for extra in qkv_extra}
    return names | ({"lm_head.weight"} if moe else {"model.transformer.ff_out.weight"})


@pytest.mark.parametrize("name", MOLMO_RELEASES)
def test_tensor_names_are_the_remote_codes(releases, name):
    data = json.loads((releases[name] / "config.json").read_text())
    assert set(_tensors(releases[name])) == _expected_names(data)


@pytest.mark.parametrize("name", MOLMO_RELEASES)
def test_tokenizer_special_tokens_at_the_releases_ids(releases, name, monkeypatch):
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt="": prompts.append(prompt) or "n")
    folder = releases[name]
    tokenizer = load_tokenizer(folder)
    assert prompts == []  # never offered to run the remote code named in config.json
    data = json.loads((folder / "config.json").read_text())
    image = tokenizer.encode("".join(MOLMO_IMAGE_TOKENS), add_special_tokens=False)
    assert image == list(range(data["vocab_size"], data["vocab_size"] + 5))
    config = json.loads((folder / "tokenizer_config.json").read_text())
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.pad_token == config["pad_token"]
    assert tokenizer.bos_token is None
    if get_preset(PRESETS[name]).llm.kind == "qwen2":  # padded so that the image tokens take wte.new_embedding
        assert data["vocab_size"] == data["embedding_size"]
        assert tokenizer.convert_tokens_to_ids("|<EXTRA_TOKENS_0>|") == tokenizer.eos_token_id + 3
        assert tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"]) == [tokenizer.eos_token_id + i
                                                                                  for i in (1, 2)]
    else:  # the image tokens take padding rows of the base embedding, as allenai/molmo's tokenizer builds them
        assert data["vocab_size"] + 5 <= data["embedding_size"] == 384
    if name == "MolmoE-1B-0924":
        assert tokenizer.convert_tokens_to_ids(["|||IP_ADDRESS|||", "<|padding|>"]) == [0, 1]
        assert tokenizer.eos_token_id == data["vocab_size"] - 1
        assert json.loads((folder / "generation_config.json").read_text())["eos_token_id"] == tokenizer.eos_token_id
    added = json.loads((folder / "added_tokens.json").read_text())
    assert {token: added[token] for token in MOLMO_IMAGE_TOKENS} == dict(zip(MOLMO_IMAGE_TOKENS, image, strict=True))


TOKENIZER_CONFIG_KEYS = {  # as in the copies named in docs/checkpoints.md, less Molmo-7B-D's chat_template
    "Molmo-7B-D-0924": {"add_prefix_space", "added_tokens_decoder", "additional_special_tokens", "auto_map",
                        "bos_token", "clean_up_tokenization_spaces", "eos_token", "errors", "model_max_length",
                        "pad_token", "processor_class", "split_special_tokens", "tokenizer_class", "unk_token"},
    "MolmoE-1B-0924": {"add_bos_token", "add_eos_token", "add_prefix_space", "added_tokens_decoder", "bos_token",
                       "clean_up_tokenization_spaces", "eos_token", "model_max_length", "pad_token", "tokenizer_class",
                       "unk_token"},
}


@pytest.mark.parametrize("name", sorted(TOKENIZER_CONFIG_KEYS))
def test_tokenizer_config_keys_are_the_releases(releases, name):
    config = json.loads((releases[name] / "tokenizer_config.json").read_text())
    assert set(config) == TOKENIZER_CONFIG_KEYS[name]
    assert config["tokenizer_class"] == {"Molmo-7B-D-0924": "Qwen2Tokenizer",
                                         "MolmoE-1B-0924": "GPTNeoXTokenizer"}[name]
    decoder = config["added_tokens_decoder"]
    assert all(entry == {"content": entry["content"], "lstrip": False, "normalized": False, "rstrip": False,
                         "single_word": False, "special": True} for entry in decoder.values())


# ---------------------------------------------------------------------------------------------------------------
# The text decoder against transformers' own decoder, the renaming done here after the remote code.


def _decoder_oracle(folder: Path, tmp_path: Path):
    """(transformers' CausalLM holding the release's LLM tensors in its own hub layout, the release's embedding).

    modeling_molmo.py: `att_proj` rows are q | k | v (`fused_dims`), `ff_proj` rows are x | gate with SwiGLU
    silu(gate) * x, `attn_norm` / `ff_norm` are the pre-norms, or with `norm_after` the norms of the attention and MLP
    outputs, the head is `transformer.ff_out`. modeling_molmoe.py: the same under `attn.` / `mlp.`, one module per
    expert, a router `mlp.gate` whose softmax over all experts is kept for the top k without renormalising, the head
    `lm_head`.
    """
    import transformers

    data = json.loads((folder / "config.json").read_text())
    release = {name: t.float() for name, t in _tensors(folder).items()}
    moe = "d_model" in data
    if moe:
        hidden, heads, layers = data["d_model"], data["n_heads"], data["n_layers"]
        kv_heads, fused = heads, data["mlp_ratio"] * hidden
        config_class, extra = transformers.OlmoeConfig, {"num_experts": data["moe_num_experts"],
                                                         "num_experts_per_tok": data["moe_top_k"],
                                                         "norm_topk_prob": False}
        attn, mlp, head = "attn.", "mlp.", "lm_head.weight"
    else:
        hidden, heads, layers = data["hidden_size"], data["num_attention_heads"], data["num_hidden_layers"]
        kv_heads, fused = data["num_key_value_heads"] or heads, data["intermediate_size"]
        config_class = transformers.Olmo2Config if data["norm_after"] else transformers.Qwen2Config
        extra = {}
        attn, mlp, head = "", "", "model.transformer.ff_out.weight"
    config = config_class(vocab_size=data["embedding_size"], hidden_size=hidden, intermediate_size=fused // 2,
                          num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                          rms_norm_eps=data["layer_norm_eps"], tie_word_embeddings=False,
                          rope_parameters={"rope_type": "default", "rope_theta": data["rope_theta"]}, **extra)
    head_dim = hidden // heads
    state = {"model.embed_tokens.weight": release["model.transformer.wte.embedding"],
             "model.norm.weight": release["model.transformer.ln_f.weight"], "lm_head.weight": release[head]}
    pre, post = ("post_attention_layernorm", "post_feedforward_layernorm") if data.get("norm_after") else (
        "input_layernorm", "post_attention_layernorm")
    for n in range(layers):
        block, layer = f"model.transformer.blocks.{n}.", f"model.layers.{n}."
        for part in ("weight", "bias"):
            if f"{block}{attn}att_proj.{part}" in release:
                q, k, v = release[f"{block}{attn}att_proj.{part}"].split([hidden, kv_heads * head_dim,
                                                                          kv_heads * head_dim])
                state |= {f"{layer}self_attn.q_proj.{part}": q, f"{layer}self_attn.k_proj.{part}": k,
                          f"{layer}self_attn.v_proj.{part}": v}
        state[f"{layer}self_attn.o_proj.weight"] = release[f"{block}{attn}attn_out.weight"]
        for norm in ("q_norm", "k_norm"):
            if f"{block}{attn}{norm}.weight" in release:
                state[f"{layer}self_attn.{norm}.weight"] = release[f"{block}{attn}{norm}.weight"]
        state[f"{layer}{pre}.weight"] = release[f"{block}{attn}attn_norm.weight"]
        state[f"{layer}{post}.weight"] = release[f"{block}{mlp}ff_norm.weight"]
        if moe:
            state[f"{layer}mlp.gate.weight"] = release[f"{block}mlp.gate.weight"]
            for e in range(data["moe_num_experts"]):
                for part in ("gate", "up", "down"):
                    name = f"mlp.experts.{e}.{part}_proj.weight"
                    state[f"{layer}{name}"] = release[f"{block}{name}"]
        else:
            x, gate = release[f"{block}ff_proj.weight"].chunk(2)
            state |= {f"{layer}mlp.up_proj.weight": x, f"{layer}mlp.gate_proj.weight": gate,
                      f"{layer}mlp.down_proj.weight": release[f"{block}ff_out.weight"]}
    config.save_pretrained(tmp_path)
    save_file({name: t.contiguous() for name, t in state.items()}, tmp_path / "model.safetensors",
              metadata={"format": "pt"})
    model_class = {"olmoe": transformers.OlmoeForCausalLM, "olmo2": transformers.Olmo2ForCausalLM,
                   "qwen2": transformers.Qwen2ForCausalLM}[config.model_type]
    oracle, info = model_class.from_pretrained(tmp_path, dtype=torch.float32, attn_implementation="eager",
                                               output_loading_info=True)
    assert not any(info.values()), info
    table = torch.cat([release["model.transformer.wte.embedding"], release["model.transformer.wte.new_embedding"]])
    return oracle.eval(), lambda ids: F.embedding(ids, table)  # the release's `Embedding.forward`


@pytest.mark.parametrize("name", MOLMO_RELEASES)
def test_text_logits_equal_transformers_decoder(releases, name, tmp_path):
    folder = releases[name]
    oracle, embed = _decoder_oracle(folder, tmp_path)
    model = load_hf_layout(folder, dtype=torch.float32)
    rows = model.config.llm.embedding_rows
    ids = torch.randint(0, rows, (2, 33), generator=torch.Generator().manual_seed(1))
    ids[:, :6] = torch.arange(rows - 6, rows)  # image-token rows, whichever table holds them
    with torch.no_grad():
        expected = oracle(inputs_embeds=embed(ids)).logits
        logits = model(ids).logits
    assert logits.shape == expected.shape == (2, 33, model.config.llm.vocab_size)
    assert expected.abs().mean() > 0.1  # the random weights give logits far from zero
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------------------------------------------
# The whole model: every tensor read, nothing missing or left over, shapes checked.


@pytest.mark.parametrize("name", MOLMO_RELEASES)
def test_every_tensor_is_loaded_and_written_back(releases, name, tmp_path):
    folder = releases[name]
    model, tokenizer = from_pretrained(folder)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}  # as stored
    save_hf_layout(model, tmp_path, tokenizer=tokenizer)
    assert json.loads((tmp_path / "config.json").read_text()) == json.loads((folder / "config.json").read_text())
    again, original = load_file(tmp_path / "model.safetensors"), _tensors(folder)
    assert set(again) == set(original)
    unused = {n for n in original if ".resblocks.2." in n}  # the block no feature layer reads: written as zeros
    assert len(unused) == 16
    assert all(torch.equal(again[n], original[n]) for n in set(original) - unused)


SHAPE_DEFECTS = {  # one tensor per layout, its shape changed in the file
    "Molmo-7B-D-0924": ("model.transformer.blocks.1.att_proj.bias", (64 + 2 * 32 + 1,)),
    "Molmo-72B-0924": ("model.transformer.ff_out.weight", (383, 64)),
    "Molmo-7B-O-0924": ("model.transformer.blocks.0.k_norm.weight", (32,)),
    "MolmoE-1B-0924": ("model.transformer.blocks.1.mlp.experts.5.down_proj.weight", (64, 31)),
}


@pytest.mark.parametrize("name", MOLMO_RELEASES)
def test_shape_mismatch_missing_and_unexpected_are_refused(releases, name, tmp_path):
    tensors = _tensors(releases[name])
    for file in releases[name].glob("*.json"):
        (tmp_path / file.name).write_text(file.read_text())
    (tmp_path / "model.safetensors.index.json").unlink()
    tensor, shape = SHAPE_DEFECTS[name]
    expected = list(tensors[tensor].shape)

    def write(changed: dict[str, torch.Tensor]) -> None:
        save_file(changed, tmp_path / "model.safetensors")

    write({**tensors, tensor: torch.zeros(shape, dtype=torch.bfloat16)})
    with pytest.raises(ValueError, match=rf"{tensor} has shape \[{', '.join(map(str, shape))}\], the config "
                                         rf"expects \[{', '.join(map(str, expected))}\]"):
        load_hf_layout(tmp_path)
    write({n: t for n, t in tensors.items() if n != tensor})
    with pytest.raises(ValueError, match=rf"missing 1 tensor\(s\) the config needs: {tensor}$"):
        load_hf_layout(tmp_path)
    write({**tensors, "model.transformer.blocks.9.attn_out.weight": torch.zeros(2, 2)})
    with pytest.raises(ValueError, match=r"1 unexpected tensor\(s\): model\.transformer\.blocks\.9\.attn_out"):
        load_hf_layout(tmp_path)


# ---------------------------------------------------------------------------------------------------------------
# Settings the releases' code would compute differently: refused, naming the key.


_MOLMOE_VISION = PUBLISHED["MolmoE-1B-0924"]["vision_backbone"]


@pytest.mark.parametrize(("name", "key", "value", "message"), [
    ("MolmoE-1B-0924", "norm_after", True, r"norm_after=True is not supported: MolmoE-1B-0924 has False"),
    ("MolmoE-1B-0924", "clip_qkv", 8.0, r"clip_qkv=8\.0 is not supported"),
    ("MolmoE-1B-0924", "weight_tying", True, r"weight_tying=True is not supported"),
    ("MolmoE-1B-0924", "n_kv_heads", 2, r"n_kv_heads=2 is not supported: .*k_norm"),
    ("MolmoE-1B-0924", "moe_num_experts", 0, r"moe_num_experts=0 is not supported"),
    ("MolmoE-1B-0924", "vision_backbone", {**_MOLMOE_VISION, "image_model_type": "siglip"},
     r"vision_backbone\.image_model_type='siglip' is not supported"),
    ("MolmoE-1B-0924", "vision_backbone", {**_MOLMOE_VISION, "image_num_pos": 578},
     r"vision_backbone\.image_num_pos=578 is not supported: this ViT needs 577"),
    ("MolmoE-1B-0924", "vision_backbone", {k: v for k, v in _MOLMOE_VISION.items() if k != "image_emb_dim"},
     r"lacks 'vision_backbone\.image_emb_dim'"),
    ("Molmo-7B-D-0924", "qkv_bias", False, r"\(qkv_bias, attention_layer_norm, norm_after\)=\(False, False, False\)"),
    ("Molmo-7B-D-0924", "layer_norm_type", "default", r"layer_norm_type='default' is not supported"),
    ("Molmo-7B-D-0924", "hidden_size", None, r"lacks 'hidden_size'"),
])
def test_settings_the_release_code_computes_otherwise_are_refused(name, key, value, message):
    with pytest.raises(ValueError, match=message):
        config_from_release({**PUBLISHED[name], key: value})


def test_modeling_molmo_ignores_what_it_hard_codes():
    """modeling_molmo.py builds its model with weight_tying=False, no clip_qkv and 128 image-token rows."""
    published = PUBLISHED["Molmo-7B-D-0924"]
    ignored = {**published, "weight_tying": True, "tie_word_embeddings": True, "clip_qkv": 4.0,
               "additional_vocab_size": 7}
    assert config_from_release(ignored) == config_from_release(published)


def test_bad_config_is_named_with_its_file(releases, tmp_path):
    for file in releases["MolmoE-1B-0924"].iterdir():
        (tmp_path / file.name).symlink_to(file)
    data = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").unlink()
    (tmp_path / "config.json").write_text(json.dumps({**data, "scale_logits": True}))
    with pytest.raises(ValueError, match=rf"^{tmp_path / 'config.json'}: scale_logits=True is not supported"):
        load_hf_layout(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(data))
    preprocessor = json.loads((tmp_path / "preprocessor_config.json").read_text())
    (tmp_path / "preprocessor_config.json").unlink()
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({**preprocessor, "overlap_margins": [2, 2]}))
    with pytest.raises(ValueError, match=r"preprocessor_config.json: overlap_margins=\[2, 2\] is not supported"):
        load_hf_layout(tmp_path)


# ---------------------------------------------------------------------------------------------------------------
# Through the adapter: `molmo:PATH`.


@pytest.mark.parametrize("name", MOLMO_RELEASES)
def test_adapter_answers_an_image_question(releases, name):
    import io

    import numpy as np
    from PIL import Image

    adapter = load_adapter(f"molmo:{releases[name]}")
    described = adapter.describe()
    assert described["dtype"] == "bfloat16" and described["weights_sha256"]
    assert described["architecture"] == f"MolmoForCausalLM (in-repo, {get_preset(PRESETS[name]).llm.kind} decoder)"
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 140, 3), dtype=np.uint8)).save(buffer, "PNG")
    request = GenerationRequest("vqa2: What is the value?", buffer.getvalue(), max_new_tokens=3, max_crops=2)
    (answer,) = adapter.generate([request])
    assert answer.prompt == " User: vqa2: What is the value? Assistant:" and 1 <= answer.output_tokens <= 3


@pytest.mark.slow
def test_each_release_runs_every_benchmark_fixture(releases, tmp_path, capsys):
    from evals.fixtures import write_all_fixtures
    from evals.tasks import TASKS
    from molmo_arena import main

    write_all_fixtures(tmp_path / "data", n=1)
    for name, folder in releases.items():
        out = tmp_path / name
        assert main(["eval", "run", "--model", f"molmo:{folder}", "--tasks", "all", "--data-dir",
                     str(tmp_path / "data"), "--out", str(out)]) == 0
        assert "| pixmo_count |" in capsys.readouterr().out
        record = json.loads((out / "run.json").read_text())
        assert record["status"] == "complete" and set(record["scores"]) == set(TASKS)
        assert record["model"]["dtype"] == "bfloat16"
        samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
        assert len(samples) == len(TASKS)
        assert all(s["error"] in (None, "empty output") for s in samples), [s["error"] for s in samples]
        assert all(s["model_prompt"].startswith(" User: ") for s in samples)
