"""The pretrained sentence encoder all-MiniLM-L6-v2, frozen, in int8: its WordPiece tokenizer, its BERT
encoder, and load_encoder, which reads both from models/minilm/ (written by build.py)."""
from .bert import BertConfig, BertEncoder
from .model_dir import EncoderDirError, load_encoder
from .wordpiece import WordPieceTokenizer

__all__ = ["BertConfig", "BertEncoder", "EncoderDirError", "WordPieceTokenizer", "load_encoder"]
