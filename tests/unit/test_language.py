"""Unit tests for the offline language detector (labelloop.domain.language)."""

# Sentences in many scripts on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import pytest

from labelloop.domain.language import MAX_CHARS, SUPPORTED_LANGUAGES, detect_language

# Short, everyday sentences: support tickets, reviews, news. Three per Latin/Cyrillic language.
WORD_SAMPLES: dict[str, list[str]] = {
    "en": [
        "I ordered the blue one last week but it has not arrived yet, can you check what happened?",
        "The new update is great and the app feels much faster than before.",
        "We would like to know if there is a discount for schools and how long it is valid.",
    ],
    "de": [
        "Ich habe die Bestellung vor einer Woche aufgegeben, aber sie ist noch nicht angekommen.",
        "Das neue Update ist super und die App ist viel schneller als vorher.",
        "Wir möchten wissen, ob es einen Rabatt für Schulen gibt und wie lange er gilt.",
    ],
    "fr": [
        "J'ai commandé le modèle bleu la semaine dernière mais il n'est toujours pas arrivé.",
        "La nouvelle mise à jour est très bien et l'application est plus rapide qu'avant.",
        "Nous voudrions savoir s'il existe une réduction pour les écoles et pour combien de temps.",
    ],
    "es": [
        "Pedí el modelo azul la semana pasada pero todavía no ha llegado, ¿pueden revisar qué pasó?",
        "La nueva actualización es muy buena y la aplicación va mucho más rápido que antes.",
        "Queremos saber si hay un descuento para las escuelas y hasta cuándo es válido.",
    ],
    "it": [
        "Ho ordinato il modello blu la settimana scorsa ma non è ancora arrivato, potete controllare?",
        "Il nuovo aggiornamento è ottimo e l'applicazione è molto più veloce di prima.",
        "Vorremmo sapere se c'è uno sconto per le scuole e per quanto tempo è valido.",
    ],
    "pt": [
        "Encomendei o modelo azul na semana passada mas ainda não chegou, podem verificar o que aconteceu?",
        "A nova atualização é ótima e o aplicativo está muito mais rápido do que antes.",
        "Gostaríamos de saber se há um desconto para as escolas e até quando é válido.",
    ],
    "nl": [
        "Ik heb vorige week het blauwe model besteld maar het is nog niet aangekomen.",
        "De nieuwe update is geweldig en de app is veel sneller dan voorheen.",
        "Wij willen graag weten of er een korting is voor scholen en hoe lang die geldig is.",
    ],
    "sv": [
        "Jag beställde den blå modellen förra veckan men den har inte kommit än.",
        "Den nya uppdateringen är jättebra och appen är mycket snabbare än förut.",
        "Vi vill gärna veta om det finns en rabatt för skolor och hur länge den gäller.",
    ],
    "da": [
        "Jeg bestilte den blå model i sidste uge, men den er ikke kommet endnu, hvad er der sket?",
        "Den nye opdatering er rigtig god, og appen er meget hurtigere end før.",
        "Vi vil gerne vide, om der er rabat til skoler, og hvor længe den gælder for os.",
    ],
    "no": [
        "Jeg bestilte den blå modellen forrige uke, men den har ikke kommet ennå, hva har skjedd?",
        "Den nye oppdateringen er veldig bra, og appen er mye raskere enn før.",
        "Vi vil gjerne vite om det finnes rabatt for skoler, og hvor lenge den gjelder for oss.",
    ],
    "fi": [
        "Tilasin sinisen mallin viime viikolla, mutta se ei ole vielä tullut perille.",
        "Uusi päivitys on todella hyvä ja sovellus on paljon nopeampi kuin ennen.",
        "Haluaisimme tietää, onko kouluille alennusta ja kuinka kauan se on voimassa.",
    ],
    "pl": [
        "Zamówiłem niebieski model w zeszłym tygodniu, ale jeszcze nie dotarł, czy możecie to sprawdzić?",
        "Nowa aktualizacja jest świetna i aplikacja działa dużo szybciej niż przedtem.",
        "Chcielibyśmy wiedzieć, czy jest zniżka dla szkół i jak długo jest ważna.",
    ],
    "cs": [
        "Minulý týden jsem objednal modrý model, ale ještě nedorazil, můžete to prosím zkontrolovat?",
        "Nová aktualizace je skvělá a aplikace je teď mnohem rychlejší než předtím.",
        "Chtěli bychom vědět, zda je sleva pro školy a jak dlouho platí.",
    ],
    "tr": [
        "Geçen hafta mavi modeli sipariş ettim ama hâlâ gelmedi, ne olduğunu kontrol eder misiniz?",
        "Yeni güncelleme çok iyi ve uygulama eskisinden daha hızlı çalışıyor.",
        "Okullar için bir indirim var mı ve ne kadar süre geçerli olduğunu öğrenmek istiyoruz.",
    ],
    "id": [
        "Saya memesan model biru minggu lalu tetapi sampai sekarang belum datang, bisa dicek?",
        "Pembaruan yang baru ini sangat bagus dan aplikasinya jauh lebih cepat dari sebelumnya.",
        "Kami ingin tahu apakah ada diskon untuk sekolah dan berapa lama diskon itu berlaku.",
    ],
    "ro": [
        "Am comandat modelul albastru săptămâna trecută, dar încă nu a sosit, puteți verifica?",
        "Noua actualizare este foarte bună și aplicația merge mult mai repede decât înainte.",
        "Am dori să știm dacă există o reducere pentru școli și cât timp este valabilă.",
    ],
    "hu": [
        "Múlt héten megrendeltem a kék modellt, de még nem érkezett meg, meg tudnák nézni?",
        "Az új frissítés nagyon jó, és az alkalmazás sokkal gyorsabb, mint korábban.",
        "Szeretnénk tudni, hogy van-e kedvezmény az iskoláknak, és meddig érvényes.",
    ],
    "ru": [
        "Я заказал синюю модель на прошлой неделе, но она ещё не пришла, можете проверить?",
        "Новое обновление отличное, и приложение работает гораздо быстрее, чем раньше.",
        "Мы хотели бы узнать, есть ли скидка для школ и как долго она действует.",
    ],
    "uk": [
        "Я замовив синю модель минулого тижня, але вона ще не прийшла, чи можете перевірити?",
        "Нове оновлення чудове, і застосунок працює набагато швидше, ніж раніше.",
        "Ми хотіли б дізнатися, чи є знижка для шкіл і як довго вона діє.",
    ],
    "bg": [
        "Поръчах синия модел миналата седмица, но още не е пристигнал, можете ли да проверите?",
        "Новата актуализация е страхотна и приложението работи много по-бързо от преди.",
        "Бихме искали да знаем дали има отстъпка за училища и колко време е валидна.",
    ],
}

# Shorter sentences on other topics (passwords, deliveries, rivers, family), written apart from the
# word lists. Some have no function word at all: the detector may abstain, never answer wrongly.
EXTRA_SAMPLES: dict[str, list[str]] = {
    "en": [
        "Please reset my password, I can't log in since yesterday.",
        "Shipping was fast but the box was damaged.",
        "Where can I find the invoice for my last order?",
        "The river flows through the old town and into the lake, where fishermen work every morning.",
        "My sister bought a new car yesterday.",
    ],
    "de": [
        "Bitte setzen Sie mein Passwort zurück, ich kann mich seit gestern nicht anmelden.",
        "Der Versand war schnell, aber der Karton war beschädigt.",
        "Wo finde ich die Rechnung für meine letzte Bestellung?",
        "Der Fluss fließt durch die Altstadt in den See, wo jeden Morgen Fischer arbeiten.",
        "Meine Schwester hat gestern ein neues Auto gekauft.",
    ],
    "fr": [
        "Merci de réinitialiser mon mot de passe, je ne peux plus me connecter depuis hier.",
        "La livraison a été rapide mais le carton était abîmé.",
        "Où puis-je trouver la facture de ma dernière commande ?",
        "La rivière traverse la vieille ville et se jette dans le lac, où des pêcheurs travaillent chaque matin.",
        "Ma sœur a acheté une nouvelle voiture hier.",
    ],
    "es": [
        "Por favor restablezcan mi contraseña, no puedo entrar desde ayer.",
        "El envío fue rápido pero la caja llegó dañada.",
        "¿Dónde puedo encontrar la factura de mi último pedido?",
        "El río atraviesa el casco antiguo y desemboca en el lago, donde los pescadores trabajan cada mañana.",
        "Mi hermana compró un coche nuevo ayer.",
    ],
    "it": [
        "Per favore reimpostate la mia password, non riesco ad accedere da ieri.",
        "La spedizione è stata veloce ma la scatola era danneggiata.",
        "Dove posso trovare la fattura del mio ultimo ordine?",
        "Il fiume attraversa la città vecchia e sfocia nel lago, dove i pescatori lavorano ogni mattina.",
        "Mia sorella ha comprato una macchina nuova ieri.",
    ],
    "pt": [
        "Por favor redefinam a minha senha, não consigo entrar desde ontem.",
        "O envio foi rápido mas a caixa chegou danificada.",
        "Onde posso encontrar a fatura da minha última encomenda?",
        "O rio atravessa a cidade velha e desagua no lago, onde os pescadores trabalham todas as manhãs.",
        "A minha irmã comprou um carro novo ontem.",
    ],
    "nl": [
        "Kunnen jullie mijn wachtwoord resetten, ik kan sinds gisteren niet inloggen.",
        "De verzending was snel maar de doos was beschadigd.",
        "Waar kan ik de factuur van mijn laatste bestelling vinden?",
        "De rivier stroomt door de oude binnenstad naar het meer, waar elke ochtend vissers werken.",
        "Mijn zus heeft gisteren een nieuwe auto gekocht.",
    ],
    "sv": [
        "Kan ni återställa mitt lösenord, jag kan inte logga in sedan igår.",
        "Leveransen var snabb men kartongen var skadad.",
        "Var hittar jag fakturan för min senaste beställning?",
        "Floden rinner genom gamla stan och ut i sjön, där fiskare arbetar varje morgon.",
        "Min syster köpte en ny bil igår.",
    ],
    "da": [
        "Kan I nulstille min adgangskode, jeg kan ikke logge ind siden i går.",
        "Leveringen var hurtig, men kassen var beskadiget.",
        "Hvor kan jeg finde fakturaen for min sidste ordre?",
        "Floden løber gennem den gamle bydel og ud i søen, hvor fiskere arbejder hver morgen.",
        "Min søster købte en ny bil i går.",
    ],
    "no": [
        "Kan dere tilbakestille passordet mitt, jeg har ikke kunnet logge inn siden i går.",
        "Leveransen var rask, men esken var skadet.",
        "Hvor finner jeg fakturaen for min siste bestilling?",
        "Elva renner gjennom gamlebyen og ut i innsjøen, der fiskere jobber hver morgen.",
        "Søsteren min kjøpte en ny bil i går.",
    ],
    "fi": [
        "Voisitteko nollata salasanani, en ole päässyt kirjautumaan eilisen jälkeen.",
        "Toimitus oli nopea mutta laatikko oli vahingoittunut.",
        "Mistä löydän viimeisimmän tilaukseni laskun?",
        "Joki virtaa vanhan kaupungin läpi järveen, jossa kalastajat työskentelevät joka aamu.",
        "Siskoni osti eilen uuden auton.",
    ],
    "pl": [
        "Proszę zresetować moje hasło, od wczoraj nie mogę się zalogować.",
        "Wysyłka była szybka, ale pudełko było uszkodzone.",
        "Gdzie mogę znaleźć fakturę za moje ostatnie zamówienie?",
        "Rzeka przepływa przez stare miasto i wpada do jeziora, gdzie rybacy pracują każdego ranka.",
        "Moja siostra kupiła wczoraj nowy samochód.",
    ],
    "cs": [
        "Prosím o obnovení hesla, od včerejška se nemohu přihlásit.",
        "Doprava byla rychlá, ale krabice byla poškozená.",
        "Kde najdu fakturu k mé poslední objednávce?",
        "Řeka protéká starým městem a vlévá se do jezera, kde každé ráno pracují rybáři.",
        "Moje sestra si včera koupila nové auto.",
    ],
    "tr": [
        "Lütfen şifremi sıfırlayın, dünden beri giriş yapamıyorum.",
        "Kargo hızlıydı ama kutu hasarlıydı.",
        "Son siparişimin faturasını nerede bulabilirim?",
        "Nehir eski şehrin içinden geçerek göle dökülüyor, balıkçılar her sabah orada çalışıyor.",
        "Kız kardeşim dün yeni bir araba aldı.",
    ],
    "id": [
        "Tolong atur ulang kata sandi saya, saya tidak bisa masuk sejak kemarin.",
        "Pengirimannya cepat tetapi kotaknya rusak.",
        "Di mana saya bisa menemukan faktur untuk pesanan terakhir saya?",
        "Sungai itu mengalir melalui kota tua dan bermuara di danau, tempat para nelayan bekerja setiap pagi.",
        "Kakak saya membeli mobil baru kemarin.",
    ],
    "ro": [
        "Vă rog să-mi resetați parola, nu mă pot conecta de ieri.",
        "Livrarea a fost rapidă, dar cutia era deteriorată.",
        "Unde găsesc factura pentru ultima mea comandă?",
        "Râul traversează orașul vechi și se varsă în lac, unde pescarii lucrează în fiecare dimineață.",
        "Sora mea și-a cumpărat ieri o mașină nouă.",
    ],
    "hu": [
        "Kérem, állítsák vissza a jelszavamat, tegnap óta nem tudok belépni.",
        "A szállítás gyors volt, de a doboz sérült volt.",
        "Hol találom a legutóbbi rendelésem számláját?",
        "A folyó átfolyik az óvároson és a tóba ömlik, ahol minden reggel halászok dolgoznak.",
        "A nővérem tegnap vett egy új autót.",
    ],
    "ru": [
        "Пожалуйста, сбросьте мой пароль, я не могу войти со вчерашнего дня.",
        "Доставка была быстрой, но коробка была повреждена.",
        "Где я могу найти счёт за мой последний заказ?",
        "Река протекает через старый город и впадает в озеро, где каждое утро работают рыбаки.",
        "Моя сестра вчера купила новую машину.",
    ],
    "uk": [
        "Будь ласка, скиньте мій пароль, я не можу увійти з учорашнього дня.",
        "Доставка була швидкою, але коробка була пошкоджена.",
        "Де я можу знайти рахунок за моє останнє замовлення?",
        "Річка протікає через старе місто і впадає в озеро, де щоранку працюють рибалки.",
        "Моя сестра вчора купила нову машину.",
    ],
    "bg": [
        "Моля, нулирайте паролата ми, не мога да вляза от вчера.",
        "Доставката беше бърза, но кутията беше повредена.",
        "Къде мога да намеря фактурата за последната си поръчка?",
        "Реката тече през стария град и се влива в езерото, където всяка сутрин работят рибари.",
        "Сестра ми вчера си купи нова кола.",
    ],
}

SCRIPT_SAMPLES: dict[str, list[str]] = {
    "ja": [
        "先週青いモデルを注文しましたが、まだ届いていません。確認していただけますか？",
        "新しいアップデートはとても良いです。",
    ],
    "zh": [
        "我上周订购了蓝色的型号，但是到现在还没有收到，你们能查一下吗？",
        "新的更新非常好，应用程序比以前快多了。",
    ],
    "ko": [
        "지난주에 파란색 모델을 주문했는데 아직 도착하지 않았습니다. 확인해 주시겠어요?",
        "새 업데이트가 정말 좋고 앱이 훨씬 빨라졌어요.",
    ],
    "ar": [
        "طلبت النموذج الأزرق الأسبوع الماضي لكنه لم يصل بعد، هل يمكنكم التحقق؟",
        "التحديث الجديد رائع والتطبيق أسرع بكثير من قبل.",
    ],
    "he": [
        "הזמנתי את הדגם הכחול בשבוע שעבר אבל הוא עדיין לא הגיע, תוכלו לבדוק?",
        "העדכון החדש מצוין והאפליקציה הרבה יותר מהירה.",
    ],
    "el": [
        "Παρήγγειλα το μπλε μοντέλο την περασμένη εβδομάδα αλλά δεν έχει φτάσει ακόμα.",
        "Η νέα ενημέρωση είναι εξαιρετική.",
    ],
    "hi": [
        "मैंने पिछले हफ्ते नीला मॉडल ऑर्डर किया था लेकिन वह अभी तक नहीं आया है।",
        "नया अपडेट बहुत अच्छा है और ऐप पहले से तेज़ है।",
    ],
    "th": [
        "ฉันสั่งรุ่นสีน้ำเงินเมื่อสัปดาห์ที่แล้วแต่ยังไม่ได้รับเลย",
        "การอัปเดตใหม่ดีมากและแอปเร็วขึ้นกว่าเดิมมาก",
    ],
    "ka": [
        "გასულ კვირას შევუკვეთე ლურჯი მოდელი, მაგრამ ჯერ არ მოსულა.",
        "ახალი განახლება ძალიან კარგია.",
    ],
    "hy": [
        "Անցյալ շաբաթ պատվիրեցի կապույտ մոդելը, բայց այն դեռ չի հասել։",
        "Նոր թարմացումը շատ լավն է։",
    ],
}


@pytest.mark.parametrize(("lang", "text"), [(lang, text) for lang, texts in WORD_SAMPLES.items() for text in texts])
def test_latin_and_cyrillic_sentences(lang: str, text: str) -> None:
    detected, confidence = detect_language(text)
    assert detected == lang
    assert 0.0 < confidence <= 1.0


@pytest.mark.parametrize(("lang", "text"), [(lang, text) for lang, texts in SCRIPT_SAMPLES.items() for text in texts])
def test_script_languages(lang: str, text: str) -> None:
    detected, confidence = detect_language(text)
    assert detected == lang
    assert confidence >= 0.8


def test_overall_accuracy_and_coverage() -> None:
    groups = (WORD_SAMPLES, SCRIPT_SAMPLES, EXTRA_SAMPLES)
    samples = [(lang, text) for group in groups for lang, texts in group.items() for text in texts]
    answers = [(lang, detect_language(text)[0]) for lang, text in samples]
    correct = sum(lang == found for lang, found in answers)
    wrong = [(lang, found) for lang, found in answers if found is not None and found != lang]
    assert correct / len(samples) >= 0.9
    assert wrong == []
    latin = {"en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "tr", "id", "ro", "hu"}
    assert latin | {"ru", "uk", "bg"} | set(SCRIPT_SAMPLES) <= SUPPORTED_LANGUAGES
    assert set(WORD_SAMPLES) == set(EXTRA_SAMPLES) == latin | {"ru", "uk", "bg"}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "12345 67890",
        "!!! ??? ...",
        "ok",  # fewer than three tokens
        "hello there",  # two tokens
        "Samsung Galaxy Ultra",  # three tokens, no function word
        "日本",  # two Han letters: below the script minimum
        "😀😀😀 🎉",
    ],
)
def test_too_short_or_uninformative_is_none(text: str) -> None:
    assert detect_language(text) == (None, 0.0)


def test_tie_between_languages_is_none() -> None:
    # "de" and "la" are function words in Spanish, French and more: no winner.
    assert detect_language("de la Torre")[0] is None


def test_confidence_grows_with_evidence() -> None:
    short = detect_language("the cat and the dog")
    long = detect_language(WORD_SAMPLES["en"][0] + " " + WORD_SAMPLES["en"][2])
    assert short[0] == long[0] == "en"
    assert short[1] < long[1]


def test_mixed_language_text_is_less_certain() -> None:
    english = WORD_SAMPLES["en"][1]
    german = WORD_SAMPLES["de"][1]
    pure = detect_language(english + " " + WORD_SAMPLES["en"][2])
    mixed = detect_language(english + " " + german)
    assert mixed[0] in {"en", "de"}
    assert mixed[1] < pure[1]


def test_mixed_script_text_follows_the_dominant_script() -> None:
    text = "Спасибо большое, всё работает отлично и быстро, как и было обещано (thanks!)"
    detected, confidence = detect_language(text)
    assert detected == "ru"
    pure = detect_language(text.replace("(thanks!)", ""))[1]
    assert confidence < pure
    # An English sentence quoting a Japanese word stays English.
    assert detect_language("The word for thank you in Japanese is ありがとう and it is used a lot.")[0] == "en"


def test_kana_decides_japanese_over_chinese() -> None:
    assert detect_language("東京都庁舎")[0] == "zh"  # Han only: read as Chinese
    assert detect_language("東京都に行きます")[0] == "ja"


def test_only_the_first_max_chars_are_read() -> None:
    text = "x " * MAX_CHARS + WORD_SAMPLES["en"][0]
    assert detect_language(text) == (None, 0.0)


def test_case_and_punctuation_do_not_matter() -> None:
    text = WORD_SAMPLES["fr"][0]
    assert detect_language(text.upper())[0] == "fr"
    assert detect_language(f"« {text} »")[0] == "fr"
