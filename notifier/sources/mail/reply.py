"""The technician's answer in a reply mail: quoted history, headers, signature, greeting cut.

A reply as mail clients write it (see docs/reply-extraction.md for the sources)::

    Hi Ann,                                  <- greeting            (dropped)
    I replaced the fuser unit.               <- the answer          (kept)
    Best regards,                            <- sign-off            (dropped, with all below it)
    Tom Tech | IT Service Desk
    -- / Sent from my iPhone / CONFIDENTIALITY NOTICE: ...
    On Mon, 4 Mar 2024 at 09:12, Ann <ann@x> wrote:   <- attribution (quoted block dropped)
    > the printer is broken
    From: Ann / Sent: ... / To: ... / Subject: ...    <- Outlook header (all below dropped)

:func:`strip_quoted` removes only what is certainly not the writer's: quoted text, reply
headers and the RFC 3676 signature. :func:`extract_reply` also drops greeting, sign-off, mobile
signature and legal footer, for the "what we did" text of a notice.

Everything is line-based with anchored, bounded patterns (no backtracking over the body), so the
cost is linear in the text, which the mail parser already caps.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["extract_reply", "strip_quoted"]

# A line of quoted text (">", "> >", ">>").
_QUOTED = re.compile(r"^\s*>")  # after any whitespace: kept lines are str.strip()ped

# --- where the quoted part starts ------------------------------------------------------------
# Attribution lines ("On <date>, <who> wrote:"), in the forms of Thunderbird's localised
# composeMsgs.properties, Gmail, Apple Mail and Outlook for Mac. Each must end the line with a
# colon; the lead word (On/Am/Le...) and the verb make it specific enough to stand alone.
_COLON = r"\s*[:：]\s*$"  # \s: French puts a no-break space before the colon
_ATTRIBUTION = re.compile(
    "|".join(
        (
            r"^(?:On|At)\b.{0,300}\b(?:wrote|writes)" + _COLON,  # en
            r"^Am\b.{0,300}\bschrieb\b.{0,200}" + _COLON,  # de
            r"^.{1,200}\bschrieb am\b.{0,200}" + _COLON,  # de, Gmail "X schrieb am Mo., ...:"
            r"^Le\b.{0,300}\ba\s+écrit" + _COLON,  # fr
            r"^El\b.{0,300}\bescribió" + _COLON,  # es
            r"^Il\b.{0,300}\bha scritto" + _COLON,  # it
            r"^Op\b.{0,300}\b(?:schreef\b.{0,200}|het volgende geschreven)" + _COLON,  # nl
            r"^(?:Em|Às)\b.{0,300}\bescreveu" + _COLON,  # pt
            r"^(?:W dniu|Dnia)\b.{0,300}\b(?:pisze|napisał(?:\(a\))?)" + _COLON,  # pl
            r"^.{0,300}\d{4}.{0,200}\bnapisał(?:\(a\)|a)?" + _COLON,  # pl, Gmail (dated)
            r"^Den\b.{0,300}\bskrev\b.{0,200}" + _COLON,  # sv (also da, no)
            r"^(?:mån|tis|ons|tors|fre|lör|sön)\b.{0,300}\bskrev\b.{0,200}" + _COLON,  # sv Gmail
            r"^.{0,300}\b(?:пишет|написал[а]?|пише|написав)" + _COLON,  # ru (uk)
            r"^.{0,300}(?:のメール|のメッセージ)" + _COLON,  # ja, Apple Mail
            r"^.{0,300}(?:写道|寫道)" + _COLON,  # zh
            # Neighbours the samples do not cover, cheap to know: cs, fi, hu, tr, ko.
            r"^Dne\b.{0,300}\bnapsal(?:\(a\)|a)?" + _COLON,
            r"^.{0,300}\b(?:kirjoitti|írta|yazdı)" + _COLON,
            r"^.{0,300}(?:작성|님이 작성하였습니다)" + _COLON,
            # Gmail before 2016: "2016-03-03 17:21 GMT+01:00 Some One <some@x>:" (colon optional)
            r"^\d{4}-\d{2}-\d{2} \d{1,2}:\d{2} GMT[+-]\d{2}:\d{2} .{1,200}$",
        )
    ),
    re.IGNORECASE,
)
_YEAR = re.compile(r"\d{4}")
_ADDRESS = re.compile(r"<[^<>@\s]{1,64}@[^<>@\s]{1,255}>")
_MAX_ATTRIBUTION = 400  # characters; real attribution lines are far shorter
# "<who> wrote:" without a date: only when quoted lines follow or it names an address in <>
# ("Some One <one@x> wrote:"); otherwise it could be a sentence of the answer.
_WEAK_ATTRIBUTION = re.compile(
    r"^.{1,120}\b(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|pisze|skrev"
    r"|пишет|写道)" + _COLON,
    re.IGNORECASE,
)
# "-----Original Message-----" and translations (Outlook, Thunderbird, Lotus, mobile clients).
_SEPARATOR = re.compile(
    r"^[ \t>*]*-{2,}[ \t]*(?:Original Message|Forwarded message|Ursprüngliche Nachricht"
    r"|Original-Nachricht|Weitergeleitete Nachricht|Message d'origine|Message original"
    r"|Message transféré|Mensaje original|Mensaje reenviado|Messaggio originale"
    r"|Messaggio inoltrato|Oorspronkelijk bericht|Doorgestuurd bericht|Mensagem original"
    r"|Mensagem encaminhada|Wiadomość oryginalna|Treść oryginalnej wiadomości"
    r"|Ursprungligt meddelande|Vidarebefordrat meddelande|Исходное сообщение"
    r"|Пересылаемое сообщение|Перенаправленное сообщение|元のメッセージ|原始邮件|原始郵件"
    r"|原始消息|转发的消息)[ \t]*-{2,}[ \t*]*$",
    re.IGNORECASE,
)
# Outlook's header block of the answered mail: a From line, then a Sent/Date line within the
# next three lines, in the labels of the localised Outlook versions (" :" in French).
_FROM = re.compile(
    r"^[ \t>*]*(?:From|Von|De|Da|Van|Od|Från|Fra|От|差出人|送信者|发件人|寄件者)[ \t\u00a0*]*[:：]",
    re.IGNORECASE,
)
_SENT = re.compile(
    r"^[ \t>*]*(?:Sent|Date|Gesendet|Datum|Envoyé|Date|Enviado|Enviada em|Fecha|Inviato|Data"
    r"|Verzonden|Wysłano|Wysłane|Skickat|Sendt|Отправлено|Дата|送信日時|日時|发送时间|日期"
    r"|寄件日期)[ \t\u00a0*]*[:：]",
    re.IGNORECASE,
)
_RULE = re.compile(r"^[ \t]*(?:_{10,}|-{10,}|={10,})[ \t]*$")  # Outlook's line above its header
_SIGNATURE = re.compile(r"^-- ?$")  # RFC 3676 section 4.3 ("-- "; trailing space often lost)

# --- what the writer adds around the answer ---------------------------------------------------
# Whole-line sign-offs; a short name may follow on the same line ("Cheers, Tom").
_SIGN_OFFS = (
    # en
    "best regards|kind regards|warm regards|regards|best wishes|best|all the best|many thanks"
    "|thanks|thank you|thanks again|cheers|sincerely|yours sincerely|yours truly|with regards"
    # de
    "|mit freundlichen grüßen|mit freundlichen grüssen|mit freundlichem gruß|freundliche grüße"
    "|viele grüße|beste grüße|liebe grüße|schöne grüße|herzliche grüße|grüße|gruß|mfg|lg|vg"
    "|vielen dank|danke"
    # fr
    "|cordialement|bien cordialement|bien à vous|salutations|meilleures salutations"
    "|sincères salutations|bonne journée|bonne soirée|merci|merci beaucoup|amicalement"
    # es
    "|saludos|un saludo|saludos cordiales|atentamente|cordialmente|gracias|muchas gracias"
    "|un abrazo"
    # it
    "|cordiali saluti|distinti saluti|saluti|un saluto|grazie|grazie mille|buona giornata"
    # nl
    "|met vriendelijke groet|met vriendelijke groeten|vriendelijke groet|vriendelijke groeten"
    "|hartelijke groet|groet|groeten|mvg|bedankt|dank je|dank u"
    # pt
    "|atenciosamente|cumprimentos|melhores cumprimentos|abraço|abraços|obrigado|obrigada"
    "|saudações|att"
    # pl
    # (the longer forms first: "pozdrawiam" alone would take "serdecznie" for a name)
    "|pozdrawiam serdecznie|serdecznie pozdrawiam|serdeczne pozdrowienia|pozdrawiam"
    "|z poważaniem|z wyrazami szacunku|pozdrowienia|dziękuję"
    # sv
    "|med vänliga hälsningar|vänliga hälsningar|bästa hälsningar|hälsningar|mvh|tack"
    # ru
    "|с уважением|всего доброго|всего хорошего|спасибо|с наилучшими пожеланиями"
    # ja
    "|よろしくお願いいたします|よろしくお願いします|宜しくお願いいたします|宜しくお願い致します"
    "|以上、よろしくお願いいたします|以上、よろしくお願いします|以上です"
    # zh
    "|此致|此致敬礼|谢谢|谢谢您|祝好|顺祝商祺|敬上"
)
_SIGN_OFF = re.compile(
    rf"^(?:{_SIGN_OFFS})[ \t]*[,.!。！，、]?(?:[ \t]+(?P<name>\S.{{0,40}}))?$", re.IGNORECASE
)
# Greetings at the top: "Hi Ann,", "Hallo Frau Becker,", "Bonjour,", "田中様", "王女士，您好！".
_GREETINGS = (
    "hi|hello|hey|dear|good morning|good afternoon|good evening|greetings"
    "|hallo|liebe|lieber|sehr geehrte|sehr geehrter|guten tag|guten morgen|moin|servus"
    "|bonjour|bonsoir|salut|cher|chère|madame|monsieur"
    "|hola|buenos días|buenas tardes|estimado|estimada"
    "|ciao|buongiorno|buonasera|gentile|salve|caro|cara"
    "|hoi|beste|goedemorgen|goedemiddag"
    "|olá|ola|oi|bom dia|boa tarde|prezado|prezada"
    "|dzień dobry|witam|cześć|szanowna|szanowny|szanowni"
    "|hej|hejsan|hallå|god morgon"
    "|здравствуйте|добрый день|добрый вечер|доброе утро|привет|уважаемый|уважаемая"
)
# The greeting word, an optional comma, up to four words of name ("Frau Dr. Becker"), then
# the line's end: "Hi Ann, the printer works" is content, not a greeting.
_GREETING = re.compile(
    rf"^(?:{_GREETINGS})\b,?(?:[ \t]+[^\s,!?;:]+){{0,4}}[ \t]*[,!:]?$", re.IGNORECASE
)
# The same greeting with the answer after it on one line: "Hi Ann, the printer works again."
_GREETING_BEFORE = re.compile(
    rf"^(?:{_GREETINGS})\b,?(?P<names>(?:[ \t]+[^\s,!?;:]+){{0,4}})[ \t]*[,!][ \t]+(?P<rest>\S.*)$",
    re.IGNORECASE,
)
_CJK_GREETING = re.compile(
    r"^(?:.{1,20}(?:様|さま|さん|殿|先生|女士|小姐)[,、，]?"
    r"|(?:.{0,20}[,，、]?[ \t]*)?(?:您好|你好|大家好)[!！,，。]?"
    r"|(?:いつも)?お世話になって(?:おり|い)ます.{0,60}|お疲れ様です.{0,60})$"
)
# Mobile and webmail signatures that close the writer's part.
_SENT_FROM = re.compile(
    r"^(?:Sent from (?:my )?\w+|Get Outlook for \w+|Sendt fra (?:min )?\w+"
    r"|Von meinem \w+|Gesendet von (?:meinem )?\w+|Envoyé de mon \w+|Envoyé depuis"
    r"|Envoyé à partir de \w+|Enviado desde (?:mi )?\w+|Inviato da(?:l mio)? \w+"
    r"|Verstuurd vanaf (?:mijn )?\w+|Verzonden vanuit \w+|Enviado do (?:meu )?\w+"
    r"|Enviado (?:a partir )?do \w+|Wysłane z (?:mojego )?\w+|Skickat från (?:min )?\w+"
    r"|Skickades från \w+|Отправлено (?:с|из) \w+"
    r"|\w+から送信|发自我的\w+|從我的 ?\w+ ?傳送)\b.{0,40}$",
    re.IGNORECASE,
)
# A legal footer: a paragraph that says the message is confidential.
_CONFIDENTIAL = re.compile(
    r"confidential|vertraulich|confidentiel|confidencial|riservat|vertrouwelijk|poufn"
    r"|konfidentiell|конфиденциальн|機密|秘密|保密|机密|disclaimer|haftungsausschluss",
    re.IGNORECASE,
)
_MESSAGE_WORD = re.compile(
    r"e-?mail|message|nachricht|courriel|mensaje|messaggio|bericht|mensagem|wiadomo|meddelande"
    r"|сообщени|письм|メール|邮件|郵件|informationen|information",
    re.IGNORECASE,
)


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _is_attribution(lines: Sequence[str], i: int) -> int:
    """How many lines starting at ``i`` form an attribution line (0 when none).

    Clients wrap long attributions (Gmail's text/plain at 78 columns), so up to three lines are
    joined; a join must start with a date or an address, so an answer line is never glued on.
    """
    line = lines[i].strip()
    if not line or len(line) > _MAX_ATTRIBUTION:
        return 0
    if _ATTRIBUTION.match(line) or _dated_address(line):
        return 1
    if _WEAK_ATTRIBUTION.match(line) and (_quote_follows(lines, i + 1) or _ADDRESS.search(line)):
        return 1
    if not re.search(r"\d|<|@", line):
        return 0
    joined = line
    for extra in (1, 2):
        if i + extra >= len(lines) or not lines[i + extra].strip():
            return 0
        if _ATTRIBUTION.match(lines[i + extra].strip()):
            return 0  # that line stands alone: it is found when the scan gets there
        joined = f"{joined} {lines[i + extra].strip()}"
        if len(joined) > _MAX_ATTRIBUTION:
            return 0
        if _ATTRIBUTION.match(joined) or _dated_address(joined):
            return extra + 1
    return 0


def _dated_address(line: str) -> bool:
    """Gmail's forms that name no verb: "пн, 4 мар. 2024 г. в 10:00, Анна <anna@x>:" (ru),
    "2024年3月4日(月) 10:00 田中 <tanaka@x>:" (ja): a year, then an address in <> and the colon."""
    body = line.rstrip(" \t:：")
    if body == line or not body.endswith(">"):
        return False
    start = body.rfind("<")
    address = body[start + 1 : -1]
    return (
        start > 0
        and address.count("@") == 1
        and not any(c.isspace() for c in address)
        and bool(_YEAR.search(body, 0, start))
    )


def _quote_follows(lines: Sequence[str], i: int) -> bool:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i < len(lines) and bool(_QUOTED.match(lines[i]))


def _is_outlook_header(lines: Sequence[str], i: int) -> bool:
    if not _FROM.match(lines[i]):
        return False
    return any(_SENT.match(lines[j]) for j in range(i + 1, min(i + 4, len(lines))))


def _unquoted(lines: list[str]) -> list[str]:
    """The writer's lines: reply headers and quoted blocks out, the unmarked history cut off."""
    kept: list[str] = []
    has_content = False  # any kept line that is not blank
    i = 0
    while i < len(lines):
        line = lines[i]
        if _QUOTED.match(line):
            i += 1  # quoted text (bottom-posting keeps the writer's lines around it)
            continue
        if _SEPARATOR.match(line) or _is_outlook_header(lines, i) or _SIGNATURE.match(line):
            break  # the answered mail follows unquoted (or the signature): nothing after is ours
        size = _is_attribution(lines, i)
        if size:
            i += size
            if not _quote_follows(lines, i):
                if has_content:
                    break  # HTML turned to text: the quote has no ">" marks, it is all the rest
                continue  # nothing above it: an inline reply below the attribution (Gmail app)
            while i < len(lines) and (not lines[i].strip() or _QUOTED.match(lines[i])):
                i += 1
            continue
        kept.append(line.rstrip())
        has_content = has_content or bool(line.strip())
        i += 1
    return kept


def _tidy(lines: Sequence[str]) -> str:
    """Drop trailing rules, squeeze blank-line runs, trim the ends."""
    out: list[str] = []
    for line in lines:
        if line.strip() or (out and out[-1]):
            out.append(line.rstrip())
    while out and (not out[-1].strip() or _RULE.match(out[-1])):
        out.pop()
    return "\n".join(out).strip()


def strip_quoted(text: str) -> str:
    """The new part of a reply: quoted history, reply headers and the signature removed."""
    return _tidy(_unquoted(_lines(text)))


def _looks_like_name(rest: str) -> bool:
    """A sign-off line may carry the writer's name ("Tom", "Tom Tech", "Иван"), not a sentence."""
    words = rest.split()
    return len(words) <= 3 and all(w[0].isupper() or not w[0].isascii() for w in words)


def _is_sign_off(line: str) -> bool:
    found = _SIGN_OFF.match(line.strip())
    if found is None:
        return False
    return not found["name"] or _looks_like_name(found["name"])


def _is_greeting(line: str) -> bool:
    line = line.strip()
    if len(line) > 80:
        return False
    return bool(_GREETING.match(line) or _CJK_GREETING.match(line))


def _without_greeting(line: str) -> str:
    """``line`` without a leading greeting and name; the line itself when it has none."""
    found = _GREETING_BEFORE.match(line.strip())
    if found is None or not all(
        w[0].isupper() or not w[0].isascii() for w in found["names"].split()
    ):
        return line  # "Dear customers, ..." names nobody: a sentence, kept whole
    return found["rest"]


def _is_footer(paragraph: Sequence[str]) -> bool:
    text = " ".join(paragraph)
    return bool(_CONFIDENTIAL.search(text) and _MESSAGE_WORD.search(text))


def _footer_start(lines: Sequence[str]) -> int:
    """Where the closing run of legal-footer paragraphs starts (``len(lines)`` when none):
    one backward pass, each paragraph read once."""
    start = len(lines)
    end = len(lines)
    while end > 0:
        while end > 0 and not lines[end - 1].strip():
            end -= 1
        begin = end
        while begin > 0 and lines[begin - 1].strip():
            begin -= 1
        if begin == end or not _is_footer(lines[begin:end]):
            break
        start, end = begin, begin
    return start


def extract_reply(text: str) -> str:
    """The technician's answer alone: what :func:`strip_quoted` keeps, minus the greeting,
    sign-off and everything below it (name, title, phone), mobile signature and legal footer.

    When these rules would leave nothing (a reply that is only "Thanks, Tom"), the text of
    :func:`strip_quoted` is returned: a short note is better than an empty one.
    """
    lines = _unquoted(_lines(text))
    content = [i for i, line in enumerate(lines) if line.strip()]
    if not content:
        return ""
    start = content[0]
    # Greetings: up to two leading lines ("田中様" then "お世話になっております。").
    for _ in range(2):
        if start < len(lines) and _is_greeting(lines[start]):
            start += 1
            while start < len(lines) and not lines[start].strip():
                start += 1
        else:
            break
    if start < len(lines):
        lines[start] = _without_greeting(lines[start])
    # A legal footer closes the mail; never the first paragraph of the answer.
    end = _footer_start(lines)
    if end <= start or not any(line.strip() for line in lines[start:end]):
        end = len(lines)
    for i in range(start, end):
        line = lines[i]
        if not line.strip():
            continue
        if _SENT_FROM.match(line.strip()) or (i != start and _is_sign_off(line)):
            end = i
            break
    answer = _tidy(lines[start:end])
    return answer or _tidy(lines)
