"""Patterns for personal data in Chinese text, which the English spaCy model cannot read.

- ``ZH_NAME_PATTERNS``: a common surname and one or two more characters after a cue ("我叫",
  "联系人：", "Regards,"), before a title ("先生", "女士"), or after "我是" when punctuation
  closes the name; Chinese has no spaces, so a cue or a title is what marks a name;
- ``ZH_PHONE_PATTERNS`` / ``ZH_PHONE_CONTEXT``: mainland mobile numbers (``1[3-9]`` and nine
  more digits) and landlines (``0`` + area code) next to Chinese text or with ``+86``.

Read on the normalised text: fullwidth digits and ``：``, ``，`` are ASCII there. Chosen with
the ``obfuscated`` section of ``bench/redaction.py``.
"""

from __future__ import annotations

from typing import Final

# stubs come from types-regex (dev); the ignore keeps mypy clean in an environment without it
import regex  # type: ignore[import-untyped, unused-ignore]

from gateway.redaction.patterns import SELF_CUE, SIGNOFF_CUE

#: What every name pattern needs: a text without Chinese characters skips them.
HAN: Final = regex.compile(r"\p{Han}")

# The most common surnames (about nine people in ten carry one), simplified and traditional.
# Left out: those that are everyday function words too (于, 和, 时, 向, 应, 全, 成, 单, 常).
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚"
    "邵万钱严覃武戴莫孔汤温康施文牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿兰焦俞左柳甘祝包"
    "宁尚符舒阮柯纪梅童凌毕季裴霍涂苗谷盛曲翁冉骆蓝游辛靳管柴蒙鲍华喻祁蒲房滕屈饶牟艾尤穆卓古"
    "吉缪简麦褚娄窦戚岑费卜冷晏席卫米柏宗瞿桂佟臧闵邬卞姬栾隋刁巫寇桑郎甄丛仲虞敖巩佘池邝"
    "陳黃劉張楊趙吳孫馬羅鄭謝許韓馮鄧蕭蔣葉蘇呂盧鍾譚陸賈韋鄒閆龍賀顧龔萬錢嚴湯溫聶魯"
)
_COMPOUND_SURNAMES = (
    "欧阳|歐陽|司马|司馬|上官|诸葛|諸葛|东方|東方|皇甫|尉迟|公孙|慕容|令狐|长孙|宇文|夏侯|轩辕"
    "|端木|独孤|南宫|西门"
)
# Characters that follow a name rather than end it ("我叫王伟想问一下", "王伟的订单"), so a
# two-character name is not read as three.
_AFTER_NAME = (
    "的想在是和要说了吗呢啊也就请您你我他她们电手号邮地"
    "给把被对从到会能已还都又再先女姐经老联打发收用订买问谢"
)
_NAME = rf"(?:{_COMPOUND_SURNAMES}|[{_SURNAMES}])\p{{Han}}(?:(?![{_AFTER_NAME}])\p{{Han}})?"
_ZH_CUE = (
    r"(?:我叫|我的名字是|我的名字叫|名字是|名字叫|姓名|联系人|聯絡人|收件人|收货人|收貨人|寄件人"
    r"|持卡人|开户名|開戶名|开户人|户名|戶名|账户名|帳戶名|客户姓名|签名|簽名|敬礼|敬禮)"
)
_TITLE = r"(?:先生|女士|小姐|太太|老师|老師)"

ZH_NAME_PATTERNS: Final = (
    # "我叫王伟", "联系人：李娜", "此致\n敬礼\n黄小明"
    ("Chinese name after a cue", rf"(?<={_ZH_CUE}[ \t]{{0,3}}[:：]?\s{{0,4}}){_NAME}", 0.7),
    # "张先生", "陈晓明女士"
    (
        "Chinese name before a title",
        rf"(?:{_COMPOUND_SURNAMES}|[{_SURNAMES}])\p{{Han}}{{0,2}}"
        rf"(?={_TITLE})",
        0.65,
    ),
    # "我是王伟，" but not "我是王者荣耀的玩家": the name must end at punctuation or a space
    ("Chinese name after 我是", rf"(?<=(?:我是|本人)[ \t]{{0,3}}){_NAME}(?=[\s\p{{P}}]|$)", 0.65),
    # "Regards, 王芳", "My name is 刘洋"
    (
        "Chinese name after an English cue",
        rf"(?<=\b(?:{SELF_CUE}[ \t]{{1,6}}|{SIGNOFF_CUE}(?:[ \t]{{0,6}}[,!.])?\s{{1,12}})){_NAME}",
        0.7,
    ),
)

ZH_PHONE_CONTEXT: Final = [
    "电话", "電話", "手机", "手機", "号码", "號碼", "联系", "聯繫", "座机", "微信", "致电", "来电",
    "phone", "mobile", "cell", "tel", "call", "number", "contact",
]  # fmt: skip
_MOBILE = r"1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)"
_LANDLINE = r"(?:\(0\d{2,3}\)|0\d{2,3})[ -]?\d{3,4}[ -]?\d{4}(?!\d)"
# Chinese text within a dozen characters before, none of them a digit
_AFTER_HAN = r"(?<=\p{Han}[^\n\d]{0,12})"
ZH_PHONE_PATTERNS: Final = (
    ("CN mobile with +86", rf"(?<![\d+])(?:\+|00)86[ -]?{_MOBILE}", 0.7),
    ("CN mobile in Chinese text", rf"{_AFTER_HAN}{_MOBILE}", 0.6),
    ("CN landline in Chinese text", rf"{_AFTER_HAN}{_LANDLINE}", 0.6),
    # an 11-digit number elsewhere may be an order number: only with a phone word nearby
    ("CN mobile", rf"(?<![\d+]){_MOBILE}", 0.4),
)
