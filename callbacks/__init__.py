"""Custom Keras callbacks that strata configs can name under `callbacks:`."""
