#!/usr/bin/env python3
"""Tokenizer parity fixtures: tests/data/tokenizers/.

With the Hugging Face `tokenizers` library this script
  1. trains five small BPE tokenizers on a multilingual corpus written below, one of each kind the
     runtime must read (Qwen2-style regex split + ByteLevel, GPT-2 ByteLevel with its regex,
     o200k-style regex split with ignore_merges, SentencePiece-style byte-fallback BPE with a
     Prepend/Replace normalizer, and a Metaspace(prepend_scheme=first) variant), plus three
     smaller ones for the less common components (subword prefix/suffix with BPEDecoder and
     BertProcessing; every Split behaviour with RobertaProcessing; the Whitespace and Digits
     pre-tokenizers), saves each as <name>.tokenizer.json (merges as "a b" strings in some files
     and [a, b] pairs in others), and
  2. writes <name>.expected.json: the library's ids for a multilingual test text and for each of
     its lines (with and without the post-processor's special tokens) and its decode() output;
  3. with --made-dir DIR (DIR holds the <family>.json files that the C++ test
     MadeTokenizer.MatchesTheLibrary writes into the build tree, i.e. build/made_tokenizers),
     loads the tokenizer.json files made by make_tokenizer() and records the library's encodings
     of the same text in made_<family>.expected.json, with a checksum of the file it read.

tests/unit/tokenizer/hf_parity_test.cpp compares the C++ tokenizer with these files exactly.
Usage: python3 tools/make_tokenizer_fixtures.py [--out tests/data/tokenizers] [--made-dir DIR]
"""
import argparse
import json
import pathlib

import tokenizers
from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                        pre_tokenizers, processors, trainers)

QWEN_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")
O200K_REGEX = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
               r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+"
               r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}"
               r"| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# Training text, written for this project: 30 languages and scripts, digits, code, whitespace
# runs, contractions and special tokens inside text.
CORPUS = """\
English: Mixture-of-experts models route every token to a few experts. They're fast, aren't they? We'll see; I've measured it twice and it's 3.5x faster.
The router's weights decide which experts run. Experts that aren't chosen don't compute anything at all.
German: Die Experten werden für jedes Token ausgewählt. Größere Modelle brauchen mehr Speicher, aber nicht mehr Rechenzeit.
French: Les experts sont choisis pour chaque jeton. L'université a publié les résultats hier soir ; c'était très intéressant.
Spanish: Los expertos se eligen para cada token. ¿Cuántos expertos hay en cada capa? Hay ocho por token.
Portuguese: Os especialistas são escolhidos para cada token. Não sabemos ainda qual é a melhor configuração.
Italian: Gli esperti vengono scelti per ogni token. L'anno scorso abbiamo studiato la distribuzione del carico.
Dutch: De experts worden voor elk token gekozen. Het model is groot, maar de berekening blijft snel.
Swedish: Experterna väljs för varje token. Vi mäter fördelningen över alla lager och språk.
Polish: Eksperci są wybierani dla każdego tokenu. Źródło danych zawiera teksty w wielu językach.
Czech: Experti jsou vybíráni pro každý token. Příliš žluťoučký kůň úpěl ďábelské ódy.
Russian: Эксперты выбираются для каждого токена. Маршрутизатор решает, какие эксперты будут работать.
Ukrainian: Експерти обираються для кожного токена. Ми вимірюємо розподіл навантаження.
Greek: Οι ειδικοί επιλέγονται για κάθε λέξη. Το μοντέλο είναι μεγάλο αλλά γρήγορο.
Turkish: Uzmanlar her belirteç için seçilir. İstanbul'da hava bugün güneşli ve ılık.
Vietnamese: Các chuyên gia được chọn cho mỗi từ. Mô hình này rất lớn nhưng chạy nhanh.
Indonesian: Para ahli dipilih untuk setiap token. Model ini besar tetapi cepat sekali.
Swahili: Wataalamu huchaguliwa kwa kila neno. Mfano huu ni mkubwa lakini ni wa haraka.
Chinese: 每个词元都会被分配给几个专家。混合专家模型的路由器决定哪些专家参与计算。我们测量每一层的负载分布。
Japanese: 各トークンは数人の専門家に割り当てられます。ルーターがどの専門家を使うかを決めます。東京と大阪で実験しました。
Korean: 각 토큰은 몇몇 전문가에게 배정됩니다. 라우터가 어떤 전문가를 사용할지 결정합니다.
Hindi: हर टोकन कुछ विशेषज्ञों को भेजा जाता है। राउटर तय करता है कि कौन से विशेषज्ञ काम करेंगे।
Bengali: প্রতিটি টোকেন কয়েকজন বিশেষজ্ঞের কাছে পাঠানো হয়। রাউটার সিদ্ধান্ত নেয় কোন বিশেষজ্ঞ কাজ করবে।
Tamil: ஒவ்வொரு சொல்லும் சில நிபுணர்களுக்கு அனுப்பப்படுகிறது. இது ஒரு சோதனை.
Telugu: ప్రతి టోకెన్ కొంతమంది నిపుణులకు పంపబడుతుంది. ఇది ఒక పరీక్ష.
Thai: แต่ละโทเค็นจะถูกส่งไปยังผู้เชี่ยวชาญไม่กี่คน เราวัดการกระจายภาระในทุกชั้น
Arabic: يتم توجيه كل رمز إلى عدد قليل من الخبراء. يقرر الموجه أي الخبراء سيعملون.
Hebrew: כל אסימון נשלח למספר מומחים. הנתב מחליט אילו מומחים יעבדו.
Persian: هر توکن به چند متخصص فرستاده می‌شود. مسیریاب تصمیم می‌گیرد.
Georgian: თითოეული ტოკენი რამდენიმე ექსპერტს ეგზავნება.
Armenian: Յուրաքանչյուր նշան ուղարկվում է մի քանի փորձագետի։
Amharic: እያንዳንዱ ቶከን ለጥቂት ባለሙያዎች ይላካል።
Code: for (int i = 0; i < n; ++i) { total += weights[i] * x[i]; }  // accumulate
    def top_k(logits, k=8):
        return sorted(range(len(logits)), key=lambda i: -logits[i])[:k]
Numbers: 0 7 42 365 2024 31415926 1,000,000 3.14 -273.15 1e-5 12:45 2025-06-30 +49 30 1234567
Emoji: 🙂 😂 🚀 ✨ 🤖 👍🏽 👩‍💻 🇯🇵 ❤️ 🎉🎉🎉
Whitespace:   three spaces,	a tab,		two tabs, trailing spaces   
and empty lines:


Specials inside text: <|im_start|>user
Hello!<|im_end|> and <|endoftext|> and <s> and </s> in the middle.
"""

# Test text: one case per line, plus the whole text. Some lines overlap the corpus, others not.
TEST_LINES = [
    "Hello world! The router's experts aren't idle; they're busy.",
    "DON'T SHOUT, I'LL LISTEN. We've Got It, YOU'RE right.",
    "Die Experten wählen Größe und Länge. Ça va très bien, merci !",
    "¿Qué tal? ¡Muy bien! Não, obrigado. Żółć gęślą jaźń.",
    "Быстрый маршрутизатор выбирает экспертов. Ελληνικά γράμματα.",
    "İstanbul ıslak ISLAK. Tiếng Việt có dấu: ạ ặ ổ ữ.",
    "混合专家模型很大，但是推理很快。東京で会いましょう。서울에서 만나요.",
    "हिंदी में परीक्षण। বাংলায় পরীক্ষা। தமிழ் சோதனை. తెలుగు పరీక్ష.",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ ๑๒๓",
    "العربية من اليمين إلى اليسار ١٢٣. עברית גם כן. فارسی هم همینطور.",
    "ქართული Հայերեն አማርኛ ᏣᎳᎩ ᠮᠣᠩᠭᠣᠯ",
    "Numbers 1234567890 3.14159 -42 1e10 0xDEADBEEF 2025-06-30T12:00:00Z",
    "Emoji 🙂🚀✨ 👍🏽 👩‍💻 🇯🇵 ❤️ 🧑🏿‍🔬 and symbols © ™ € ∑ ∞ → ≤",
    "Combining: e\u0301 a\u0308 \u1100\u1161\u11a8 (decomposed) vs é ä 각 (composed)",
    "Compatibility: ﬁ ﬂ ｆｕｌｌ　ｗｉｄｔｈ ① ² ½",
    "Whitespace:   three  two\tone\t\ttwo tabs   ",
    "   leading spaces",
    "trailing spaces   ",
    " ",
    "",
    "\n\nnewlines\n\n\n",
    "CRLF line\r\nnext line\r\n",
    "NEL\u0085and\u00a0no-break\u2003em-space\u3000ideographic",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<think>\n\n</think>\n\nThe answer is 4.<|im_end|>",
    "x<|endoftext|>y <|endoftext|> z<|endoftext|>",
    "<|user|>\nHello there<|end|>\n<|assistant|>\nHi!<|end|>",
    "  <|user|>   spaced   <|end|>   ",
    "<s>Hello</s> <s> </s>",
    "<|start|>system<|message|>You are helpful.<|end|><|start|>assistant<|channel|>final<|message|>Ok<|return|>",
    "A [WORD] in text, a[WORD]glued, [WORD]",
    "<mask> masked <mask>",
    "café cafe\u0301 CAFÉ",
    "Rare characters: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𓂀 ꧁꧂ ᚠᚢᚦ",
    "def f(x):\n    return x ** 2  # square\n",
    "if (a && b || !c) { return -1; } // done",
    "'s 't 're 've 'm 'll 'd 'S 'T 'RE",
    "a\u200bzero\u200cwidth\u200djoiner",
    "\u2460[WORD] \u24b6[WORD] x_[WORD] 1[WORD]",
]
TEST_TEXT = "\n".join(TEST_LINES)

# Random strings over a pool of awkward pieces (scripts, marks, spaces of every kind, specials,
# contractions): one case each, not part of TEST_TEXT. Seeded, so the fixture is reproducible.
RANDOM_POOL = (list("abcXYZ  \t\n\r'sdtmlrevSDT0123456789.,!?-_/\\()[]{}<>|:;\"")
               + list("éäöüßçñİıſKΩ中文字日本語カタ한국어हिंदीবাংলাالعربيةภาษาไทย")
               + ["🙂", "👍🏽", "👨\u200d👩\u200d👧", "\u0301", "\u200b", "\u0085", "\u00a0",
                  "\u3000", "\u2028", "ﬁ", "①", "\ufeff", "▁", "<|im_start|>", "<|im_end|>",
                  "<|endoftext|>", "<think>", "<s>", "</s>", "<unk>", "<|user|>", "<|end|>",
                  "<mask>", "[WORD]", "café", "<|message|>", "<0x41>", " 's", "'LL", "   "])


def random_lines(count=12, seed=1234):
    import random
    rng = random.Random(seed)
    return ["".join(rng.choice(RANDOM_POOL) for _ in range(rng.randint(1, 30)))
            for _ in range(count)]

BYTE_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
HARMONY_SPECIALS = ["<|startoftext|>", "<|endoftext|>", "<|return|>", "<|constrain|>",
                    "<|channel|>", "<|start|>", "<|end|>", "<|message|>", "<|call|>"]


def train(tokenizer, vocab_size, alphabet=None, limit_alphabet=None):
    kwargs = dict(vocab_size=vocab_size, show_progress=False, min_frequency=2)
    if alphabet is not None:
        kwargs["initial_alphabet"] = alphabet
    if limit_alphabet is not None:
        kwargs["limit_alphabet"] = limit_alphabet
    tokenizer.train_from_iterator(CORPUS.splitlines(keepends=True), trainers.BpeTrainer(**kwargs))
    return json.loads(tokenizer.to_str())


def finish(doc, merges_as_strings):
    """Reloads the edited JSON with the library (the check that it is a valid file)."""
    if merges_as_strings:
        doc["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m
                                  for m in doc["model"]["merges"]]
    text = json.dumps(doc, ensure_ascii=False)
    return Tokenizer.from_str(text), text


def qwen2_regex():
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.NFC()
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    t.post_processor = processors.ByteLevel(trim_offsets=False)
    doc = train(t, 700, pre_tokenizers.ByteLevel.alphabet())
    t = Tokenizer.from_str(json.dumps(doc))
    t.add_special_tokens([AddedToken(s, normalized=False) for s in BYTE_SPECIALS])
    t.add_tokens([AddedToken("<think>", normalized=False, special=False),
                  AddedToken("</think>", normalized=False, special=False)])
    doc = json.loads(t.to_str())
    doc["model"]["continuing_subword_prefix"] = ""
    doc["model"]["end_of_word_suffix"] = ""
    return finish(doc, merges_as_strings=True)


def gpt2_bytelevel():
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.NFC()
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    t.decoder = decoders.ByteLevel()
    doc = train(t, 700, pre_tokenizers.ByteLevel.alphabet())
    t = Tokenizer.from_str(json.dumps(doc))
    t.add_special_tokens([AddedToken("<|endoftext|>", normalized=False),
                          AddedToken("<|user|>", lstrip=True, rstrip=True, normalized=False)])
    t.add_tokens([AddedToken("[WORD]", single_word=True, normalized=True),
                  AddedToken("café", normalized=True)])
    eos = t.token_to_id("<|endoftext|>")
    t.post_processor = processors.TemplateProcessing(
        single="$A <|endoftext|>", pair="$A <|endoftext|> $B:1 <|endoftext|>:1",
        special_tokens=[("<|endoftext|>", eos)])
    return finish(json.loads(t.to_str()), merges_as_strings=False)


def o200k_regex():
    t = Tokenizer(models.BPE(ignore_merges=True))
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(O200K_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    doc = train(t, 700, pre_tokenizers.ByteLevel.alphabet())
    t = Tokenizer.from_str(json.dumps(doc))
    t.add_special_tokens([AddedToken(s, normalized=False) for s in HARMONY_SPECIALS])
    doc = json.loads(t.to_str())
    doc["model"]["ignore_merges"] = True
    return finish(doc, merges_as_strings=False)


def sentencepiece_vocab():
    """A byte-fallback BPE vocab: <unk> <s> </s>, <0x00>..<0xFF>, then the learned pieces."""
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    doc = train(t, 900, limit_alphabet=120)
    learned = sorted(doc["model"]["vocab"].items(), key=lambda kv: kv[1])
    vocab = {}
    for tok in ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]:
        vocab[tok] = len(vocab)
    for tok, _ in learned:
        vocab.setdefault(tok, len(vocab))
    return vocab, doc["model"]["merges"]


def sentencepiece_doc(vocab, merges, normalizer, pre_tokenizer, decoder, added):
    t = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m) for m in merges], unk_token="<unk>",
                             fuse_unk=True, byte_fallback=True))
    if normalizer is not None:
        t.normalizer = normalizer
    if pre_tokenizer is not None:
        t.pre_tokenizer = pre_tokenizer
    t.decoder = decoder
    t.add_special_tokens([AddedToken(s, normalized=False) for s in ["<unk>", "<s>", "</s>"]])
    t.add_special_tokens(added)
    t.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s>:1 $B:1", special_tokens=[("<s>", 1)])
    return json.loads(t.to_str())


def sentencepiece_bytefallback(vocab, merges):
    doc = sentencepiece_doc(
        vocab, merges,
        normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]), None,
        decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                           decoders.Strip(" ", 1, 0)]),
        [AddedToken("<|endoftext|>", normalized=False),
         AddedToken("<|assistant|>", rstrip=True, normalized=False),
         AddedToken("<|end|>", rstrip=True, normalized=False),
         AddedToken("<|user|>", rstrip=True, normalized=False),
         AddedToken("<mask>", lstrip=True, normalized=False)])
    return finish(doc, merges_as_strings=True)


def metaspace_first(vocab, merges):
    doc = sentencepiece_doc(
        vocab, merges, None,
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False),
        decoders.Sequence([decoders.Metaspace(replacement="▁", prepend_scheme="first"),
                           decoders.ByteFallback(), decoders.Fuse()]),
        [AddedToken("<|user|>", normalized=False), AddedToken("<|end|>", normalized=False)])
    return finish(doc, merges_as_strings=False)


def suffix_wordlike():
    """Lowercasing/accent-stripping normalizer, whitespace+punctuation+digit pre-tokenizers,
    BPE with continuing_subword_prefix and end_of_word_suffix and an unk token, BPEDecoder,
    BertProcessing."""
    t = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##",
                             end_of_word_suffix="</w>"))
    t.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.StripAccents(),
                                         normalizers.Lowercase()])
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior="isolated"),
        pre_tokenizers.Digits(individual_digits=True)])
    t.decoder = decoders.BPEDecoder(suffix="</w>")
    t.train_from_iterator(CORPUS.splitlines(keepends=True), trainers.BpeTrainer(
        vocab_size=500, show_progress=False, min_frequency=2, limit_alphabet=150,
        special_tokens=["[UNK]", "[CLS]", "[SEP]"], continuing_subword_prefix="##",
        end_of_word_suffix="</w>"))
    t.post_processor = processors.BertProcessing(("[SEP]", t.token_to_id("[SEP]")),
                                                 ("[CLS]", t.token_to_id("[CLS]")))
    return finish(json.loads(t.to_str()), merges_as_strings=False)


def split_behaviours():
    """Every Split delimiter behaviour (and invert), a whitespace-collapsing Replace normalizer,
    byte-level BPE, RobertaProcessing."""
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.Sequence([normalizers.Strip(left=True, right=False),
                                         normalizers.Replace(Regex(r"\s{2,}"), " ")])
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(" ", behavior="merged_with_next"),
        pre_tokenizers.Split(Regex(r"[.,!?;:]"), behavior="merged_with_previous"),
        pre_tokenizers.Split(Regex(r"\p{N}"), behavior="contiguous"),
        pre_tokenizers.Split(Regex(r"[\p{L}\p{M}\p{N} .,!?;:]+"), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    doc = train(t, 420, pre_tokenizers.ByteLevel.alphabet())
    t = Tokenizer.from_str(json.dumps(doc))
    t.add_special_tokens([AddedToken("<s>", normalized=False), AddedToken("</s>", normalized=False)])
    t.post_processor = processors.RobertaProcessing(("</s>", t.token_to_id("</s>")),
                                                    ("<s>", t.token_to_id("<s>")))
    return finish(json.loads(t.to_str()), merges_as_strings=True)


def whitespace_bytefallback(vocab, merges):
    """The Whitespace pre-tokenizer (the regex crate's \\w+|[^\\w\\s]+), Digits, NFD, byte
    fallback."""
    doc = sentencepiece_doc(
        vocab, merges, normalizers.NFD(),
        pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                 pre_tokenizers.Digits(individual_digits=False)]),
        decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()]), [])
    return finish(doc, merges_as_strings=False)


def cases(tokenizer, full=True):
    """The test lines; with full, also the whole text and the random lines."""
    out = []
    for text in TEST_LINES + ([TEST_TEXT] + random_lines() if full else []):
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        case = {"text": text, "ids": ids}
        decoded = tokenizer.decode(ids, skip_special_tokens=False)
        if decoded != text:  # absent: decode gives the text back
            case["decoded"] = decoded
        with_special = tokenizer.encode(text, add_special_tokens=True).ids
        if with_special != ids:
            case["ids_with_special_tokens"] = with_special
        skipped = tokenizer.decode(ids, skip_special_tokens=True)
        if skipped != decoded:
            case["decoded_skip_special"] = skipped
        out.append(case)
    return out


def fnv1a64(data: bytes) -> str:
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def write_expected(path, tokenizer_file, tokenizer, extra=None, full=True):
    doc = {"tokenizer": tokenizer_file, "library": f"tokenizers {tokenizers.__version__}"}
    doc.update(extra or {})
    doc["cases"] = cases(tokenizer, full)
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n",
                    encoding="utf-8")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/data/tokenizers")
    ap.add_argument("--made-dir", help="directory with the <family>.json files make_tokenizer made")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    sp_vocab, sp_merges = sentencepiece_vocab()
    built = {
        "qwen2_regex": qwen2_regex(),
        "gpt2_bytelevel": gpt2_bytelevel(),
        "o200k_regex": o200k_regex(),
        "sentencepiece_bytefallback": sentencepiece_bytefallback(sp_vocab, sp_merges),
        "metaspace_first": metaspace_first(sp_vocab, sp_merges),
    }
    # Smaller files for the less common components (the test lines only).
    exotic = {
        "suffix_wordlike": suffix_wordlike(),
        "split_behaviours": split_behaviours(),
        "whitespace_bytefallback": whitespace_bytefallback(sp_vocab, sp_merges),
    }
    for name, (tokenizer, text) in list(built.items()) + list(exotic.items()):
        (out / f"{name}.tokenizer.json").write_text(text + "\n", encoding="utf-8")
        write_expected(out / f"{name}.expected.json", f"{name}.tokenizer.json", tokenizer,
                       full=name in built)
        print(f"{name}: vocab {tokenizer.get_vocab_size()}")

    if args.made_dir:
        for family in ["qwen3_moe", "olmoe", "gpt_oss", "phimoe"]:
            raw = (pathlib.Path(args.made_dir) / f"{family}.json").read_bytes()
            tokenizer = Tokenizer.from_str(raw.decode("utf-8"))
            write_expected(out / f"made_{family}.expected.json", None, tokenizer,
                           {"family": family, "max_vocab": 2048, "fnv1a64": fnv1a64(raw)})
            print(f"made {family}: loaded by the library, vocab {tokenizer.get_vocab_size()}")


if __name__ == "__main__":
    main()
