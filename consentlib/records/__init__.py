"""The proof of consent (receipts, ISO/IEC TS 27560 shape) and the propagation of
changes to others (GDPR Art 7(3), 17(2), 19)."""
