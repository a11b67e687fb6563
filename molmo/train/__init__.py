"""Molmo's two training stages (captioning, then the fine-tuning mixture): configs, optimisation, the loop."""
