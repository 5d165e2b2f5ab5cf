"""Generated stand-ins for the files tutorials download by URL (the requests shim serves
them): the birth-weight table, the Boston housing table, the SMS spam collection, movie-review
polarity sentences and a Shakespeare-sized text. Seeded and numpy only; each has the layout
the programs parse (separators, header, archive member names), not the original content."""

from __future__ import annotations

import io
import tarfile
import zipfile

import numpy as np

COMMON = (
    "i you the a to and is it of in that for my me on have be with this at so but not your "
    "was are we can do will just get all if what no up out when go how one know like now "
    "then there good day time see love well"
).split()
SPAM = (
    "free win prize cash call claim urgent text stop reply mobile offer award guaranteed "
    "winner txt now selected voucher contact customer"
).split()
HAM = "ok home later lunch sorry tonight dinner class meet soon going tomorrow work".split()
POSITIVE = "good great love happy wonderful moving funny charming best beautiful".split()
NEGATIVE = "bad hate sad silly cliche boring dull worst mess tedious".split()
PEOPLE = "man woman film story actor director".split()
# 1600 made-up words, Zipf-distributed: text tutorials keep 1000+ features or words
_SYLLABLES = "ba be bo ka ke ko la le lo ma me mo na ne no pa pe po ra re ro sa se so ta".split()
FILLER = [a + b + c for a in _SYLLABLES for b in "rlnst" for c in _SYLLABLES[:13]]
_VOCAB = COMMON + PEOPLE + FILLER
_P = 1.0 / np.arange(1, len(_VOCAB) + 1)
_P /= _P.sum()


def _sentence(rng, special, n_special, lo=5, hi=14):
    words = list(rng.choice(_VOCAB, size=rng.randint(lo, hi), p=_P))
    for _ in range(n_special):
        words.insert(rng.randint(len(words) + 1), rng.choice(special))
    return " ".join(words)


def birthweight(n=189, seed=0) -> bytes:
    """birthweight.dat: tab-separated, a header, '\\r\\n' lines; LOW (BWT < 2500 g) first,
    BWT last, birth weight lower for smokers, hypertension and a light mother."""
    rng = np.random.RandomState(seed)
    age = rng.randint(14, 45, n)
    lwt = rng.randint(80, 250, n)
    race = rng.randint(1, 4, n)
    smoke = rng.binomial(1, 0.4, n)
    ptl = rng.binomial(1, 0.15, n)
    ht = rng.binomial(1, 0.06, n)
    ui = rng.binomial(1, 0.15, n)
    bwt = 2200 + 6.0 * lwt - 350 * smoke - 500 * ht - 300 * ui + rng.normal(0, 450, n)
    bwt = np.clip(bwt, 700, 5000).round()
    low = (bwt < 2500).astype(int)
    rows = ["LOW\tAGE\tLWT\tRACE\tSMOKE\tPTL\tHT\tUI\tBWT"]
    for r in zip(low, age, lwt, race, smoke, ptl, ht, ui, bwt.astype(int)):
        rows.append("\t".join(str(int(v)) for v in r))
    return ("\r\n".join(rows) + "\r\n").encode()


def housing() -> bytes:
    """housing.data: 14 space-separated columns a row, MEDV last (the shim's Boston-shaped
    data from sklearn's diabetes set)."""
    from .datasets import boston_housing

    (xtr, ytr), (xte, yte) = boston_housing.load_data(test_split=0.0)
    x = np.concatenate([xtr, xte])
    y = np.concatenate([ytr, yte])
    lines = [" ".join(f"{v:.5f}" for v in row) + f" {t:.2f}" for row, t in zip(x, y)]
    return ("\n".join(lines) + "\n").encode()


def sms_spam(n=1000, seed=0) -> bytes:
    """smsspamcollection.zip: SMSSpamCollection, 'ham|spam\\ttext' lines, 15% spam."""
    rng = np.random.RandomState(seed)
    lines = []
    for _ in range(n):
        spam = rng.rand() < 0.15
        text = _sentence(rng, SPAM if spam else HAM, 3 if spam else 1)
        lines.append(("spam" if spam else "ham") + "\t" + text)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("SMSSpamCollection", "\n".join(lines) + "\n")
        z.writestr("readme", "generated stand-in\n")
    return buf.getvalue()


def movie_reviews(n=1000, seed=0) -> bytes:
    """rt-polaritydata.tar.gz: rt-polaritydata/rt-polarity.{pos,neg}, a sentence a line
    (latin-1), positive and negative words mixed into common ones."""
    rng = np.random.RandomState(seed)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for kind, words in (("pos", POSITIVE), ("neg", NEGATIVE)):
            text = "\n".join(_sentence(rng, words, 2) + " ." for _ in range(n)) + "\n"
            data = text.encode("latin-1")
            info = tarfile.TarInfo(f"rt-polaritydata/rt-polarity.{kind}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def shakespeare(n_words=20000, seed=0) -> bytes:
    """pg100.txt: a Gutenberg-style preamble (the programs drop its first 7675 characters),
    then Zipf-distributed words in lines with punctuation."""
    rng = np.random.RandomState(seed)
    vocab = COMMON + POSITIVE + NEGATIVE + HAM + [f"thou{i}" for i in range(150)]
    p = 1.0 / np.arange(1, len(vocab) + 1)
    words = rng.choice(vocab, size=n_words, p=p / p.sum())
    lines, i = [], 0
    while i < n_words:
        k = rng.randint(4, 11)
        lines.append(" ".join(words[i : i + k]) + rng.choice([",", ".", ";", "!", "?"]))
        i += k
    return ("*" * 7675 + "\r\n" + "\r\n".join(lines) + "\r\n").encode()


URLS = {
    "birthweight.dat": birthweight,
    "housing.data": housing,
    "smsspamcollection.zip": sms_spam,
    "rt-polaritydata.tar.gz": movie_reviews,
    "pg100.txt": shakespeare,
}


def content_of(url: str) -> bytes:
    """The generated file a download URL names (by its last path component)."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    if name not in URLS:
        raise ConnectionError(f"tf corpus shim: no generated stand-in for {url}")
    return URLS[name]()
