"""Local GGUF models: the shipped registry, the verified cache, and installing from the hub or PyPI.

Nothing here imports llama_cpp; the provider (`ketch.providers.local.provider`) loads the files.
"""
