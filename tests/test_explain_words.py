"""`strata explain` gives each word of a text the attribution of the token the model made of it:
its words are split and standardized by the string ops of the model's own TextVectorization
layer, so non-ASCII letters and white space are read as the model reads them."""

from __future__ import annotations

import pytest

TEXTS = [
    "École CAFÉ naïve, déjà-vu!",
    "ÜBER straße\u00a0Straße  ÉCOLE",  # a no-break space: no split for the layer
    "«Quoted» words; and (more) — ÇA",
    "Ελληνικά ΚΕΊΜΕΝΟ, and ASCII",
    "   ",
    "!!! ... ---",
]


@pytest.mark.parametrize("standardize", ["lower_and_strip_punctuation", "lower", "strip_punctuation", None])
def test_words_get_the_tokens_the_models_vectorizer_makes(standardize):
    import keras

    from strata.explain.raw_features import words_of

    vectorizer = keras.layers.TextVectorization(output_mode="int", standardize=standardize)
    vectorizer.adapt(TEXTS)
    vocabulary = vectorizer.get_vocabulary()
    index = {token: i for i, token in enumerate(vocabulary)}
    words = words_of(TEXTS, vectorizer.get_config())
    for text, pairs, ids in zip(TEXTS, words, keras.ops.convert_to_numpy(vectorizer(TEXTS)).tolist()):
        ids = [i for i in ids if i != 0]  # the layer pads to the longest text
        assert [index.get(token, 1) for _, token in pairs] == ids, text
        assert all(index.get(token, 1) != 1 for _, token in pairs), text  # every token in the adapted vocabulary
        # the words are the text's own pieces (split at ASCII spaces), in order
        pieces = iter(p for p in text.split(" ") if p)
        assert all(any(w == p for p in pieces) for w, _ in pairs), (text, pairs)
    # the layer lower-cases ASCII letters only (Python's lower() would give 'café', a token the
    # model never saw) and splits at ASCII white space only
    expected = {"lower_and_strip_punctuation": ("CAFÉ", "cafÉ"), "lower": ("CAFÉ", "cafÉ"),
                "strip_punctuation": ("CAFÉ", "CAFÉ"), None: ("CAFÉ", "CAFÉ")}[standardize]
    assert words[0][1] == expected
    assert [w for w, _ in words[1]] == ["ÜBER", "straße\u00a0Straße", "ÉCOLE"]
