#include "sweeps/tasks/languages.h"

#include <fmt/format.h>

#include "runtime/core/error.h"

namespace moe::tasks {

namespace {

// Columns and their sources:
//  code, flores, flores_alias: ISO 639-1 and the FLORES-200 README's language list; FLORES+
//    (openlanguagedata) renamed Mandarin to cmn_Hans/cmn_Hant, accepted as aliases.
//  name: English language names (the translation prompt of sweeps/METHODS.md D).
//  cld2: the codes CLD2 returns (CLD2::LanguageCode, checked against libcld2 0.0.0-git20150806):
//    Hebrew is "iw", Tagalog/Filipino "tl"; CLD2 reports Chinese text as "zh" or "zh-Hant"
//    depending on the characters, so both Chinese rows accept both.
//  mgsm_question, mgsm_answer: EleutherAI lm-evaluation-harness,
//    lm_eval/tasks/mgsm/direct/mgsm_direct_{lang}.yaml (doc_to_text "{question label} " + question
//    + "\n{answer label}"), the 11 MGSM languages.
//  boxed_instruction: PolyMath (QwenLM/PolyMath, instruction.py, query_dic), byte for byte,
//    including its escaped braces "$\boxed\{\}$" as the second study's prompts used them.
//  answer_directly: moe-sweep's own translations of "Answer directly without explanation." for
//    the XQuAD languages; no published source, a native speaker's review is welcome.
constexpr Language kLanguages[] = {
    {"am", "amh_Ethi", "", "Amharic", "am", "", "", "", ""},
    {"ar", "arb_Arab", "", "Arabic", "ar", "", "",
     R"(ملاحظة: يُرجى وضع الإجابة النهائية في $\boxed\{\}$.)", R"(أجب مباشرة دون شرح.)"},
    {"bn", "ben_Beng", "", "Bengali", "bn", R"(প্রশ্ন:)", R"(Answer:)",
     R"(বিঃদ্রঃ: অনুগ্রহ করে চূড়ান্ত উত্তরটি $\boxed\{\}$ এর মধ্যে রাখুন।)", ""},
    {"cs", "ces_Latn", "", "Czech", "cs", "", "", "", ""},
    {"de", "deu_Latn", "", "German", "de", R"(Frage:)", R"(Antwort:)",
     R"(Hinweis: Bitte setzen Sie die endgültige Antwort in $\boxed\{\}$.)",
     R"(Antworte direkt ohne Erklärung.)"},
    {"el", "ell_Grek", "", "Greek", "el", "", "", "", R"(Απάντησε απευθείας χωρίς εξήγηση.)"},
    {"en", "eng_Latn", "", "English", "en", R"(Question:)", R"(Answer:)",
     R"(Note: Please put the final answer in the $\boxed\{\}$.)",
     R"(Answer directly without explanation.)"},
    {"es", "spa_Latn", "", "Spanish", "es", R"(Pregunta:)", R"(Respuesta:)",
     R"(Nota: Por favor, coloque la respuesta final en el $\boxed\{\}$.)",
     R"(Responde directamente sin explicación.)"},
    {"fa", "pes_Arab", "", "Persian", "fa", "", "", "", ""},
    {"fil", "tgl_Latn", "", "Filipino", "tl", "", "", "", ""},
    {"fr", "fra_Latn", "", "French", "fr", R"(Question :)", R"(Réponse :)",
     R"(Remarque : Veuillez mettre la réponse finale dans le $\boxed\{\}$.)", ""},
    {"ha", "hau_Latn", "", "Hausa", "ha", "", "", "", ""},
    {"he", "heb_Hebr", "", "Hebrew", "iw", "", "", "", ""},
    {"hi", "hin_Deva", "", "Hindi", "hi", "", "", "", R"(बिना व्याख्या के सीधे उत्तर दें।)"},
    {"id", "ind_Latn", "", "Indonesian", "id", "", "",
     R"(Catatan: Silakan letakkan jawaban akhir di dalam $\boxed\{\}$.)", ""},
    {"ig", "ibo_Latn", "", "Igbo", "ig", "", "", "", ""},
    {"it", "ita_Latn", "", "Italian", "it", "", "",
     R"(Nota: Per favore, metti la risposta finale nel $\boxed\{\}$.)", ""},
    {"ja", "jpn_Jpan", "", "Japanese", "ja", R"(問題：)", R"(Answer:)",
     R"(注意：最終的な答えを $\boxed\{\}$ に入れてください。)", ""},
    {"ko", "kor_Hang", "", "Korean", "ko", "", "",
     R"(참고: 최종 답안을 $\boxed\{\}$ 안에 넣어 주세요.)", ""},
    {"ky", "kir_Cyrl", "", "Kyrgyz", "ky", "", "", "", ""},
    {"lt", "lit_Latn", "", "Lithuanian", "lt", "", "", "", ""},
    {"mg", "plt_Latn", "", "Malagasy", "mg", "", "", "", ""},
    {"ms", "zsm_Latn", "", "Malay", "ms", "", "",
     R"(Nota: Sila letakkan jawapan akhir dalam $\boxed\{\}$.)", ""},
    {"ne", "npi_Deva", "", "Nepali", "ne", "", "", "", ""},
    {"nl", "nld_Latn", "", "Dutch", "nl", "", "", "", ""},
    {"ny", "nya_Latn", "", "Chichewa", "ny", "", "", "", ""},
    {"pl", "pol_Latn", "", "Polish", "pl", "", "", "", ""},
    {"pt", "por_Latn", "", "Portuguese", "pt", "", "",
     R"(Nota: Por favor, coloque a resposta final no $\boxed\{\}$.)", ""},
    {"ro", "ron_Latn", "", "Romanian", "ro", "", "", "", R"(Răspunde direct, fără explicații.)"},
    {"ru", "rus_Cyrl", "", "Russian", "ru", R"(Задача:)", R"(Answer:)",
     R"(Примечание: Пожалуйста, поместите окончательный ответ в $\boxed\{\}$.)",
     R"(Ответь прямо, без объяснений.)"},
    {"si", "sin_Sinh", "", "Sinhala", "si", "", "", "", ""},
    {"sn", "sna_Latn", "", "Shona", "sn", "", "", "", ""},
    {"so", "som_Latn", "", "Somali", "so", "", "", "", ""},
    {"sr", "srp_Cyrl", "", "Serbian", "sr", "", "", "", ""},
    {"sv", "swe_Latn", "", "Swedish", "sv", "", "", "", ""},
    {"sw", "swh_Latn", "", "Swahili", "sw", R"(Swali:)", R"(Answer:)",
     R"(Kumbuka: Tafadhali weka jibu la mwisho katika $\boxed\{\}$.)", ""},
    {"te", "tel_Telu", "", "Telugu", "te", R"(ప్రశ్న:)", R"(Answer:)",
     R"(గమనిక: దయచేసి తుది జవాబును $\boxed\{\}$ లో ఉంచండి.)", ""},
    {"th", "tha_Thai", "", "Thai", "th", R"(โจทย์:)", R"(Answer:)",
     R"(หมายเหตุ: กรุณาใส่คำตอบสุดท้ายใน $\boxed\{\}$.)", R"(ตอบโดยตรงโดยไม่ต้องอธิบาย)"},
    {"tr", "tur_Latn", "", "Turkish", "tr", "", "", "", R"(Açıklama yapmadan doğrudan cevap ver.)"},
    {"uk", "ukr_Cyrl", "", "Ukrainian", "uk", "", "", "", ""},
    {"vi", "vie_Latn", "", "Vietnamese", "vi", "", "",
     R"(Lưu ý: Vui lòng đặt câu trả lời cuối cùng trong $\boxed\{\}$.)",
     R"(Trả lời trực tiếp, không giải thích.)"},
    {"yo", "yor_Latn", "", "Yoruba", "yo", "", "", "", ""},
    {"zh", "zho_Hans", R"(cmn_Hans)", "Simplified Chinese", "zh,zh-Hant", R"(问题：)", R"(Answer:)",
     R"(注意：请将最终答案放在 $\boxed\{\}$ 中。)", R"(请直接回答，不要解释。)"},
    {"zh-Hant", "zho_Hant", R"(cmn_Hant)", "Traditional Chinese", "zh-Hant,zh", "", "", "", ""},
};

std::string known_codes() {
  std::string s;
  for (const auto& l : kLanguages) s += (s.empty() ? "" : ", ") + std::string(l.code);
  return s;
}

std::string_view require(const Language& lang, std::string_view value, std::string_view what) {
  if (value.empty())
    throw input_error(fmt::format("language '{}'", lang.code), "expected {} for it, found none",
                      what);
  return value;
}

}  // namespace

std::span<const Language> all_languages() {
  return kLanguages;
}

const Language* find_language(std::string_view code) {
  if (code.empty()) return nullptr;
  for (const auto& l : kLanguages)
    if (l.code == code || l.flores == code || l.flores_alias == code) return &l;
  return nullptr;
}

const Language& language(std::string_view code) {
  if (const Language* l = find_language(code)) return *l;
  throw input_error(fmt::format("language '{}'", code),
                    "expected a code of the language table (sweeps/tasks/languages.cpp: {} or "
                    "their FLORES-200 codes), found none",
                    known_codes());
}

std::vector<std::string_view> cld2_codes(const Language& lang) {
  std::vector<std::string_view> out;
  std::string_view s = lang.cld2;
  while (!s.empty()) {
    const size_t comma = s.find(',');
    out.push_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

std::string_view mgsm_question_label(const Language& lang) {
  return require(lang, lang.mgsm_question,
                 "an MGSM question label (MGSM: bn de en es fr ja ru "
                 "sw te th zh)");
}

std::string_view mgsm_answer_label(const Language& lang) {
  return require(lang, lang.mgsm_answer,
                 "an MGSM answer label (MGSM: bn de en es fr ja ru sw "
                 "te th zh)");
}

std::string_view boxed_instruction(const Language& lang) {
  return require(lang, lang.boxed_instruction,
                 "a localised \\boxed{} instruction (PolyMath's 18 languages)");
}

std::string_view answer_directly_instruction(const Language& lang) {
  return require(lang, lang.answer_directly,
                 "a localised 'answer directly' instruction (the XQuAD languages)");
}

}  // namespace moe::tasks
