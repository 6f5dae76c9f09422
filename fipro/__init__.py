"""FI_PRO: analysis helpers for the EDU_DATA_F quarterly card-spending table."""

__version__ = "0.1.0"
