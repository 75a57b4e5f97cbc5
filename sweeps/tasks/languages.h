// The language table: one row per language moe-sweep knows, mapping the codes datasets use
// (2-letter ISO 639-1 codes, FLORES-200 codes such as eng_Latn and FLORES+ aliases such as
// cmn_Hans) to one canonical code, the English name the FLORES translation prompt uses, the CLD2
// codes that count as this language in language-consistency checks, and the localised prompt
// strings the tasks need. Each string column names its source in languages.cpp.
//
// Lookups accept any of a row's codes, case-sensitively as datasets write them ("zh", "zho_Hans",
// "cmn_Hans"). An unknown code, or a string a language does not have (MGSM exists in 11
// languages), is an InputError naming the code and the string.
// Thread-safety: the table is immutable static data.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moe::tasks {

struct Language {
  std::string_view code;           // canonical: ISO 639-1 ("en", "zh"), "fil", "zh-Hant"
  std::string_view flores;         // FLORES-200 code ("zho_Hans")
  std::string_view flores_alias;   // another FLORES(+) code for the same data ("cmn_Hans"), or ""
  std::string_view name;           // English name for "Translate ... into {name}."
  std::string_view cld2;           // comma-separated CLD2 codes counted as this language
  std::string_view mgsm_question;  // evaluation harness mgsm_direct question label, or ""
  std::string_view mgsm_answer;    // evaluation harness mgsm_direct answer label, or ""
  std::string_view boxed_instruction;  // "put the final answer in \boxed{}", or ""
  std::string_view answer_directly;    // XQuAD "answer directly" instruction, or ""
};

std::span<const Language> all_languages();
// nullptr if no row has this code.
const Language* find_language(std::string_view code);
// Throws InputError if no row has this code.
const Language& language(std::string_view code);
// CLD2 codes of a row, split.
std::vector<std::string_view> cld2_codes(const Language& lang);

// The localised strings; each throws InputError naming the language when the row has none.
std::string_view mgsm_question_label(const Language& lang);
std::string_view mgsm_answer_label(const Language& lang);
std::string_view boxed_instruction(const Language& lang);
std::string_view answer_directly_instruction(const Language& lang);

}  // namespace moe::tasks
