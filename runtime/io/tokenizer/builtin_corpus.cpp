#include "runtime/io/tokenizer/builtin_corpus.h"

namespace moe::io::tok {

namespace {

// Written for this project. Repetition is deliberate: frequent words become merges.
constexpr std::string_view kCorpus =
    R"CORPUS(The quick brown fox jumps over the lazy dog. The dog doesn't mind; it's sleeping in the sun.
We're testing how the router sends each token to the experts, and we'll count them again tomorrow.
There are 3 apples, 12 oranges and 1,024 grapes on the table in 2024; that's 1039 pieces of fruit.
I'd like to know what they've learned: the model's answer was correct in 87.5% of the cases.
Der schnelle braune Fuchs springt über den faulen Hund. Die Katze schläft auf dem Sofa.
Das Wetter ist heute schön, und wir gehen am Nachmittag in den Park spazieren.
Le renard brun rapide saute par-dessus le chien paresseux. L'été dernier, nous sommes allés à la mer.
C'est une belle journée : les enfants jouent dans le jardin et les oiseaux chantent.
El rápido zorro marrón salta sobre el perro perezoso. ¿Dónde está la biblioteca? ¡Qué día tan bonito!
Los niños juegan en el parque y las niñas leen libros en la escuela.
A rápida raposa marrom pula sobre o cão preguiçoso. As crianças estão brincando na praça.
La volpe marrone veloce salta sopra il cane pigro. Oggi andiamo al mercato a comprare la frutta.
Быстрая коричневая лиса прыгает через ленивую собаку. Сегодня хорошая погода, и мы идём гулять.
Мы читаем книги и пишем письма друзьям. Москва — столица России.
Швидка руда лисиця стрибає через ледачого пса. Ми любимо гуляти в парку.
Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο. Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.
Szybki brązowy lis przeskakuje nad leniwym psem. Dzieci bawią się w ogrodzie.
Hızlı kahverengi tilki tembel köpeğin üzerinden atlar. Bugün hava çok güzel.
Con cáo nâu nhanh nhẹn nhảy qua con chó lười biếng. Hôm nay trời đẹp và chúng tôi đi chơi.
Rubah cokelat yang cepat melompati anjing yang malas. Anak-anak bermain di taman.
Mbweha mwepesi wa kahawia anaruka juu ya mbwa mvivu. Watoto wanacheza shuleni.
敏捷的棕色狐狸跳过了懒狗。今天天气很好，我们去公园散步。我们学习中文和数学。
中国的首都是北京。我喜欢读书，也喜欢听音乐。
素早い茶色の狐がのろまな犬を飛び越える。今日はいい天気ですね。東京は日本の首都です。
私は毎日日本語を勉強しています。ありがとうございます。
빠른 갈색 여우가 게으른 개를 뛰어넘는다. 오늘 날씨가 정말 좋네요. 서울은 한국의 수도입니다.
तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है। आज मौसम बहुत अच्छा है। भारत की राजधानी नई दिल्ली है।
हम हिंदी में बात करते हैं और किताबें पढ़ते हैं।
দ্রুত বাদামী শিয়াল অলস কুকুরের উপর দিয়ে লাফ দেয়। আজ আবহাওয়া খুব ভালো। ঢাকা বাংলাদেশের রাজধানী।
விரைவான பழுப்பு நரி சோம்பேறி நாயின் மேல் குதிக்கிறது. இன்று வானிலை நன்றாக உள்ளது.
వేగమైన గోధుమ రంగు నక్క సోమరి కుక్క మీదుగా దూకుతుంది. ఈ రోజు వాతావరణం బాగుంది.
สุนัขจิ้งจอกสีน้ำตาลกระโดดข้ามสุนัขขี้เกียจ วันนี้อากาศดีมาก กรุงเทพเป็นเมืองหลวงของประเทศไทย
الثعلب البني السريع يقفز فوق الكلب الكسول. الطقس جميل اليوم. القاهرة هي عاصمة مصر.
نحن نقرأ الكتب ونكتب الرسائل إلى الأصدقاء.
השועל החום המהיר קופץ מעל הכלב העצלן. היום מזג האוויר יפה.
روباه قهوه‌ای سریع از روی سگ تنبل می‌پرد. امروز هوا خیلی خوب است.
تیز بھوری لومڑی سست کتے کے اوپر چھلانگ لگاتی ہے۔ آج موسم بہت اچھا ہے۔
სწრაფი ყავისფერი მელა ზარმაც ძაღლს გადაახტა. დღეს კარგი ამინდია.
Արագ շագանակագույն աղվեսը ցատկում է ծույլ շան վրայով։ Այսօր եղանակը լավ է։
ፈጣኑ ቡናማ ቀበሮ ሰነፉን ውሻ ዘለለ። ዛሬ የአየሩ ሁኔታ ጥሩ ነው።
def route(tokens, experts):
    for i in range(len(tokens)):
        scores = [expert(tokens[i]) for expert in experts]
        print(f"token {i}: {max(scores):.3f}")
    return {"count": 42, "ok": True}
if (x >= 10 && y != 0) { z = x / y; }   // comment with   three   spaces
Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 3.14159 2.71828 -42 +7 1e-6 0x1F 2025-01-31 12:30:45
Emoji: 🙂 🚀 ✨ 👍🏽 👨‍👩‍👧 🇩🇪 ❤️ — and symbols: © ® ™ € £ ¥ ½ ∑ ∞ → ≤ ≥
Tabs	and	multiple    spaces,  trailing spaces   
and blank lines:


The end. The router, the experts, the tokens: the end.
)CORPUS";

}  // namespace

std::string_view builtin_corpus() {
  return kCorpus;
}

}  // namespace moe::io::tok
