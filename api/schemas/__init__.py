"""HTTP request and response models, one module per domain (`common`: what they share). Times are ISO 8601 with an
offset; money is integer KRW."""
