"""mgie's models: one module each (VAE, MLLM, edit head, text encoder, UNet), sizes from config.py."""
