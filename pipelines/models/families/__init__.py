"""Model families: one module per `model.family`, each registering its config schema and its
builder in `strata.registry.FAMILIES`."""
