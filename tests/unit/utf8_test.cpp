// UTF-8 helpers over the shared text samples (every script, emoji, combining marks) and the
// shared invalid byte sequences.
#include "utf8.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "shared_data.hpp"

using namespace clawgate;

TEST(Utf8, EverySampleIsValidAndSurvivesRepairUnchanged) {
  for (const auto& [name, text] : test_data::samples().items()) {
    const std::string s = text.get<std::string>();
    EXPECT_TRUE(utf8::valid(s)) << name;
    EXPECT_EQ(utf8::repair(s), s) << name;
  }
}

TEST(Utf8, EveryInvalidSequenceIsRefusedAndRepairedToReplacementCharacters) {
  const auto seqs = test_data::invalid_sequences();
  ASSERT_GE(seqs.size(), 10u);
  for (const auto& [bytes, what] : seqs) {
    EXPECT_FALSE(utf8::valid(bytes)) << what;
    const std::string fixed = utf8::repair(bytes);
    EXPECT_TRUE(utf8::valid(fixed)) << what;
    EXPECT_NE(fixed.find("\xEF\xBF\xBD"), std::string::npos) << what;
    // The repaired text can go through JSON and back.
    EXPECT_EQ(nlohmann::json::parse(dump_json(fixed)).get<std::string>(), fixed) << what;
  }
  // Maximal subparts: a cut CJK character is one U+FFFD, the valid parts around it stay.
  EXPECT_EQ(utf8::repair("A\xE6\xBC\xA2\xE6"), "A漢\xEF\xBF\xBD");
  EXPECT_EQ(utf8::repair("\xE6\xBC"
                         "B"),
            "\xEF\xBF\xBD"
            "B");
  EXPECT_EQ(utf8::repair("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong: two bad bytes
}

TEST(Utf8, ByteCutsNeverSplitACodePoint) {
  for (const auto& [name, text] : test_data::samples().items()) {
    const std::string s = text.get<std::string>();
    for (size_t max = 0; max <= std::min<size_t>(s.size(), 400); ++max) {
      const std::string cut = utf8::truncate_bytes(s, max, "…");
      ASSERT_LE(cut.size(), max) << name << " at " << max;
      ASSERT_TRUE(utf8::valid(cut)) << name << " at " << max;
    }
  }
  // The repro: 160 bytes of CJK text is cut inside the 54th character.
  const std::string cjk = test_data::sample("chinese");
  EXPECT_TRUE(utf8::valid(utf8::truncate_bytes(cjk, 160)));
  EXPECT_EQ(utf8::truncate_bytes(cjk, 160).size(), 159u);
}

TEST(Utf8, PreviewsKeepWholeCharactersAsAPersonSeesThem) {
  EXPECT_EQ(utf8::preview("你好世界", 2), "你好…");
  EXPECT_EQ(utf8::preview("你好", 2), "你好");
  // e + combining acute is one character: the mark is never left behind or cut off alone.
  EXPECT_EQ(utf8::preview("abe\xCC\x81x", 3), "ab…");
  // A ZWJ family (7 code points) stays whole or goes whole.
  const std::string family = "👩‍👩‍👧‍👦";
  EXPECT_EQ(utf8::preview("hi " + family + " there", 5), "hi …");
  EXPECT_EQ(utf8::preview("hi " + family + " there", 10), "hi " + family + "…");
  // Skin tones and flags.
  EXPECT_EQ(utf8::preview("ab👋🏽", 3), "ab…");
  EXPECT_EQ(utf8::preview("🇩🇪🇫🇷", 3), "🇩🇪…");
  // Hebrew with points, Arabic with harakat.
  EXPECT_EQ(utf8::preview("שָׁלוֹם", 3), "שָׁ…");   // ש + two points is one cluster of 3
  EXPECT_EQ(utf8::preview("שָׁלוֹם", 5), "שָׁל…");  // ו + holam stay together
  EXPECT_EQ(utf8::preview("مَرْحَبًا", 3), "مَ…");
  // One cluster longer than the whole budget (Zalgo) is cut on a code point, not dropped.
  EXPECT_EQ(utf8::preview("Z\u0351\u036B\u0343!", 2), "Z\u0351…");
  // Every sample, at every length: valid and never longer than asked (+ the ellipsis).
  for (const auto& [name, text] : test_data::samples().items()) {
    const std::string s = text.get<std::string>();
    for (size_t n = 0; n < 120; ++n) {
      const std::string p = utf8::preview(s, n);
      ASSERT_TRUE(utf8::valid(p)) << name << " at " << n;
      ASSERT_LE(utf8::code_points(p), n + 1) << name << " at " << n;
    }
  }
}

TEST(Utf8, Utf16LengthsCountAstralCharactersTwice) {
  EXPECT_EQ(utf8::utf16_length("abc"), 3u);
  EXPECT_EQ(utf8::utf16_length("漢字"), 2u);
  EXPECT_EQ(utf8::utf16_length("😀"), 2u);
  EXPECT_EQ(utf8::utf16_length(test_data::sample("long_emoji_4096_codepoints")), 8192u);
  EXPECT_EQ(utf8::utf16_length(test_data::sample("long_cjk_4096_utf16")), 4097u);
  const std::string emoji = "😀😀😀";
  EXPECT_EQ(utf8::cut_utf16(emoji, 3), 4u);  // never half a surrogate pair
  EXPECT_EQ(utf8::cut_utf16(emoji, 4), 8u);
  EXPECT_EQ(utf8::cut_utf16(emoji, 100), emoji.size());
}

TEST(Utf8, JsonDumpsNeverThrowOnInvalidBytes) {
  nlohmann::json j = {{"text", std::string("ok\xE6\xBC")}, {"k", {std::string("\xFF")}}};
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error);
  const std::string out = dump_json(j);
  EXPECT_TRUE(utf8::valid(out));
  EXPECT_EQ(nlohmann::json::parse(out)["text"], "ok\xEF\xBF\xBD");
}

TEST(Utf8, TrimRemovesWhatJavaScriptTrimRemoves) {
  EXPECT_EQ(utf8::trim(" \t\r\n\v\f main \xC2\xA0\xE3\x80\x80\xEF\xBB\xBF"), "main");
  EXPECT_EQ(utf8::trim("\xE2\x80\xA8x\xE2\x80\xA9"), "x");  // line and paragraph separators
  EXPECT_EQ(utf8::trim("  "), "");
  EXPECT_EQ(utf8::trim("a b"), "a b");
  // Not white space to JavaScript: NEL, zero width space, and bytes that are not UTF-8.
  EXPECT_EQ(utf8::trim("\xC2\x85x"), "\xC2\x85x");
  EXPECT_EQ(utf8::trim("x\xE2\x80\x8B"), "x\xE2\x80\x8B");
  EXPECT_EQ(utf8::trim(" \xE6\xBC "), "\xE6\xBC");
}

TEST(Utf8, LowerMatchesJavaScriptToLowerCase) {
  // Expected values are what Node's String.prototype.toLowerCase returns.
  EXPECT_EQ(utf8::lower("Hello WORLD 123"), "hello world 123");
  EXPECT_EQ(utf8::lower("ÀÉÎÕÜŸ ĀĂĄ ǅ"), "àéîõüÿ āăą ǆ");
  EXPECT_EQ(utf8::lower("ΑΒΓ ΟΔΟΣ Σ ΣΑ"), "αβγ οδος σ σα");  // final sigma only after a letter
  EXPECT_EQ(utf8::lower("ΟΔΟΣ."), "οδος.");                  // punctuation ends the word
  EXPECT_EQ(utf8::lower("Α'Σ"), "α'ς");                      // the apostrophe is skipped
  EXPECT_EQ(utf8::lower("ПРИВЕТ Ӂ Ԁ"), "привет ӂ ԁ");
  EXPECT_EQ(utf8::lower("İ"), "i\xCC\x87");                  // U+0130: two code points
  EXPECT_EQ(utf8::lower("\xE2\x84\xAA\xE2\x84\xAB"), "kå");  // Kelvin and Angstrom signs
  EXPECT_EQ(utf8::lower("ẞ Ⓐ Ａ"), "ß ⓐ ａ");
  EXPECT_EQ(utf8::lower("𐐀𐐁"), "𐐨𐐩");  // Deseret, outside the BMP
  EXPECT_EQ(utf8::lower("你好 مرحبا 😀"), "你好 مرحبا 😀");
  EXPECT_EQ(utf8::lower("bad\xE6\xBC"), "bad\xEF\xBF\xBD");
  for (const auto& [name, text] : test_data::samples().items()) {
    const std::string s = text.get<std::string>();
    const std::string once = utf8::lower(s);
    EXPECT_TRUE(utf8::valid(once)) << name;
    EXPECT_EQ(utf8::lower(once), once) << name;
  }
}
