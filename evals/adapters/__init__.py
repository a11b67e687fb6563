"""Model adapters, chosen by a spec string `KIND:TARGET` (for example `hf:/path/to/model` or `hf:org/name`)."""

from __future__ import annotations

from evals.adapters.base import Generation, GenerationRequest, ModelAdapter

KINDS = {
    "hf": "a Hugging Face VLM loaded with AutoModelForImageTextToText + AutoProcessor (local path or hub id)",
    "molmo": "the in-repo Molmo: a checkpoint folder (in-repo or release layout), a hub id, or a tiny preset",
    "openai": "an OpenAI-compatible chat-completions endpoint, BASE_URL[?options]#MODEL (vLLM, SGLang, an API)",
    "anthropic": "Anthropic's Messages API through the anthropic SDK, MODEL[?options] (key ANTHROPIC_API_KEY)",
    "gemini": "the Gemini API through the google-genai SDK, MODEL[?options] (key GEMINI_API_KEY or GOOGLE_API_KEY)",
    "frequent": "a non-neural baseline: each task's most frequent answer, from a JSON table task -> answer",
    "constant": "a non-neural baseline: the same answer TEXT to everything",
}


def load_adapter(spec: str, device: str = "cpu", dtype: str = "auto") -> ModelAdapter:
    """The adapter that `spec` names; heavy libraries load here, not at import."""
    kind, sep, target = spec.partition(":")
    if not sep or not target or kind not in KINDS:
        known = "; ".join(f"{k}:... ({v})" for k, v in KINDS.items())
        raise ValueError(f"--model {spec!r}: expected KIND:TARGET with KIND one of: {known}")
    if kind in ("frequent", "constant"):
        from evals.adapters.baselines import ConstantAdapter, FrequentAnswerAdapter

        return FrequentAnswerAdapter(target, spec=spec) if kind == "frequent" else ConstantAdapter(target, spec=spec)
    if kind == "molmo":
        from evals.adapters.molmo import MolmoAdapter

        return MolmoAdapter.load(target, spec=spec, device=device, dtype=dtype)
    if kind == "openai":  # the server picks device and dtype
        from evals.adapters.openai_api import OpenAIAdapter

        return OpenAIAdapter(target, spec=spec)
    if kind == "anthropic":
        from evals.adapters.anthropic_api import AnthropicAdapter

        return AnthropicAdapter(target, spec=spec)
    if kind == "gemini":
        from evals.adapters.gemini_api import GeminiAdapter

        return GeminiAdapter(target, spec=spec)
    from evals.adapters.hf import HFAdapter

    return HFAdapter(target, spec=spec, device=device, dtype=dtype)


__all__ = ["Generation", "GenerationRequest", "ModelAdapter", "load_adapter"]
