"""``youwei demo``: a scripted year (2025) of a fictional city, 云岭市, loaded through the
services' RPC API and nothing else.

``plan_year(seed, scale)`` is pure: it writes the year as a list of steps (one RPC command
or query each), the same for the same seed and scale. At scale 1.0 the city has its units,
46 city-level leaders with their shares of the key work, 628 county-level cadres with a
liaison task each, and section-level cadres and staff; then the year's inspections
(undercover visits with mixed teams, inspection tours, supervision and responsibility
checks), findings in all 16 situations, rectification letters, ratings through the five
channels, annual assessments, accountability cases with their measures, handlings,
exemptions, appeals and publications, and commendations.

``Loader.load(plan)`` sends the steps over nameko RPC with a few workers, each step after
the steps it needs. Command ids derive from the seed, the scale and the step, so a re-run
returns the first results and records nothing (docs/rpc.md: retry with the same
``command_id``).

The accountability service opens a case by itself for every finding about a cadre and for
every ``incompetent`` grade (docs/events.md, policies): the plan never opens those, it
*finds* them (``list_cases``) and goes on from there. Such a case is dated by the service's
own "today", so the steps of its chain are planned from the day it would open and moved
later by as many days as it opened later (``CaseDay``), but never past the day it opened:
that was the services' today, and nothing is dated after it (docs/rpc.md). The year ends
before today, so nothing the demo loads is in the future; its annual assessments are
concluded on the services' today (the year's assessment period has begun). Rectification
letters left without an accepted report become overdue at the inspections service's next
deadline check (by its today); a letter that names a task then opens a case against the
task's owner.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import queue
import random
import sys
import threading
import time
import uuid
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from schemas.accountability.reference import ACCOUNTABILITY_FORMS, HANDLINGS, MEASURES
from schemas.evaluations.reference import ASSESSMENT_RULES, CURRENT_RULES, GRADE_ORDER, score
from schemas.inspections.reference import SITUATIONS

YEAR = 2025  # a year that ended: the services refuse facts dated after their today
CITY = "云岭市"
NAMESPACE = uuid.UUID("8d6a1f0e-3b7c-4e59-a2d4-5c9e0f1b7a36")
PERSON = "演示数据 youwei demo"
EVERYDAY_BULK = 100  # everyday ratings an agency sends in one submit_ratings
SERVICES = ("cadre_registry", "evaluations", "inspections", "accountability")
DEFAULT_AMQP_URI = "pyamqp://guest:guest@127.0.0.1:5672/"

# --- the plan: steps and their placeholders --------------------------------------------


@dataclass(frozen=True)
class Ref:
    """The field ``name`` of what step ``key`` returned (an id, mostly)."""

    key: str
    name: str


@dataclass(frozen=True)
class CaseDay:
    """A day of a case's chain of steps, planned as ``day`` for a case opened on
    ``planned_open``; the loader moves it later by as many days as the case really opened
    later (a case a policy opened is dated by the accountability service's today)."""

    case: str
    day: date
    planned_open: date
    #: a case a policy opened, on the services' today: no step of it comes later
    by_policy: bool = False


@dataclass
class Step:
    """One RPC call. ``find``: not a command but a look-up of the case that the
    accountability service opened by itself (``payload``: ``cadre_id``, ``basis`` and the
    field the basis names); the loader asks again until it is there."""

    key: str
    service: str
    method: str
    payload: dict[str, Any]
    after: tuple[str, ...] = ()
    find: bool = False
    #: ratings an agency sends together: the loader sends the steps of one ``bulk`` key as
    #: one ``evaluations.submit_ratings`` command, once every one of them may run
    bulk: str | None = None


@dataclass
class Plan:
    seed: int
    scale: float
    steps: list[Step]
    #: What the year is meant to show: expected counts, and the keys of steps worth a look.
    facts: dict[str, Any]

    def counts(self) -> Counter[str]:
        """How many steps of each ``service.method`` (finds: ``accountability.find_case``)."""
        return Counter(f"{s.service}.{'find_case' if s.find else s.method}" for s in self.steps)

    def commands(self, method: str) -> list[dict[str, Any]]:
        return [s.payload for s in self.steps if s.method == method and not s.find]

    def letters_overdue_on(self, today: date) -> int:
        """How many letters the deadline check marks overdue on ``today`` (after the load)."""
        return sum(1 for deadline, accepted in self.facts["letters"]
                   if not accepted and deadline < today)  # fmt: skip


def placeholders(value: Any) -> Iterator[Ref | CaseDay]:
    if isinstance(value, Ref | CaseDay):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from placeholders(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from placeholders(item)


# --- the city: names and posts ---------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜"
    "叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶"
    "黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤普者杞字"
)
MALE = (
    "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发"
    "武新利清飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会群豪心"
    "邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦奇翰朗宏鸣朋斌栋维启克伦翔旭鹏泽晨建家"
)
FEMALE = (
    "秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱霞"
    "香月媛艳瑞佳嘉琼勤珍莉桂叶璐娅琦晶妍茜秋珊锦青倩婷婉娴瑾颖露瑶怡雁蓓仪荷丹蓉琴蕊"
    "薇菁岚馨韵丽"
)

#: The 46 city-level leaders: (unit, post, post kind), in the order a smaller demo keeps.
LEADERS = [
    ("市委", "市委书记", "leadership"),
    ("市政府", "市委副书记、市长", "leadership"),
    ("市委", "市委副书记", "leadership"),
    ("纪委", "市委常委、市纪委书记、市监委主任", "leadership"),
    ("组织部", "市委常委、组织部部长", "leadership"),
    ("市政府", "市委常委、常务副市长", "leadership"),
    ("市人大", "市人大常委会主任", "leadership"),
    ("市政协", "市政协主席", "leadership"),
    ("宣传部", "市委常委、宣传部部长", "leadership"),
    ("政法委", "市委常委、政法委书记", "leadership"),
    ("统战部", "市委常委、统战部部长", "leadership"),
    ("市委办", "市委常委、秘书长", "leadership"),
    ("市政府", "市委常委、副市长", "leadership"),
    ("高新区", "市委常委、云岭高新区党工委书记", "leadership"),
    *[("市政府", "副市长", "leadership")] * 8,
    *[("市人大", "市人大常委会副主任", "leadership")] * 7,
    *[("市政协", "市政协副主席", "leadership")] * 9,
    ("法院", "市中级人民法院院长", "leadership"),
    ("检察院", "市人民检察院检察长", "leadership"),
    ("市政协", "市政协党组副书记", "leadership"),
    ("市政府", "市政府党组成员", "leadership"),
    ("市委", "市委一级巡视员", "non_leadership"),
    ("市委", "市委一级巡视员", "non_leadership"),
    ("市政府", "市政府一级巡视员", "non_leadership"),
    ("市政府", "市政府一级巡视员", "non_leadership"),
]
CITY_LEADERS = len(LEADERS)  # 46
COUNTY_CADRES = 628
SECTION_CADRES = 96

#: Top units of the city: code → (name, county-level posts in it).
TOP_UNITS = {
    "市委": ("中共云岭市委员会", []),
    "市政府": ("云岭市人民政府", ["市政府秘书长", "市政府副秘书长", "市政府副秘书长",
                              "市政府副秘书长"]),
    "市人大": ("云岭市人大常委会", ["秘书长", "法制委员会主任委员", "财政经济委员会主任委员",
                                "教育科学文化卫生委员会主任委员", "农业与农村委员会主任委员"]),
    "市政协": ("政协云岭市委员会", ["秘书长", "提案委员会主任", "经济委员会主任",
                                "社会和法制委员会主任"]),
    "纪委": ("中共云岭市纪律检查委员会、云岭市监察委员会",
             ["市纪委副书记、市监委副主任", "市纪委副书记、市监委副主任", "市纪委常委",
              "市纪委常委", "市纪委常委", "市监委委员"]),
    "法院": ("云岭市中级人民法院", ["副院长", "副院长", "副院长"]),
    "检察院": ("云岭市人民检察院", ["副检察长", "副检察长", "副检察长"]),
}  # fmt: skip

#: Departments of the city party committee: code → (name, county-level posts).
PARTY_UNITS = {
    "市委办": ("中共云岭市委办公室", ["市委副秘书长、市委办公室主任", "市委副秘书长",
                                  "市委办公室副主任"]),
    "组织部": ("中共云岭市委组织部", ["常务副部长", "副部长", "副部长、市委老干部局局长"]),
    "宣传部": ("中共云岭市委宣传部", ["常务副部长", "副部长", "副部长、市网信办主任"]),
    "统战部": ("中共云岭市委统战部", ["常务副部长", "副部长"]),
    "政法委": ("中共云岭市委政法委员会", ["常务副书记", "副书记"]),
    "政研室": ("中共云岭市委政策研究室", ["主任", "副主任"]),
    "编办": ("云岭市委机构编制委员会办公室", ["主任", "副主任"]),
    "工委": ("中共云岭市直属机关工作委员会", ["书记", "副书记"]),
    "党校": ("中共云岭市委党校", ["常务副校长", "副校长"]),
    "融媒体": ("云岭市融媒体中心", ["主任", "总编辑"]),
}  # fmt: skip

#: The city government's departments: (name, head's title, deputy's title, section chiefs),
#: the ones that serve the public at windows first.
BUREAUS = [
    ("云岭市政务服务管理局", "局长", "副局长",
     ["综合窗口科科长", "审批服务科科长", "政务公开科科长"]),
    ("云岭市市场监督管理局", "局长", "副局长", ["登记注册科科长", "食品安全监管科科长"]),
    ("云岭市自然资源和规划局", "局长", "副局长", ["不动产登记中心主任", "耕地保护科科长"]),
    ("云岭市住房和城乡建设局", "局长", "副局长", ["建筑市场监管科科长", "物业管理科科长"]),
    ("云岭市人力资源和社会保障局", "局长", "副局长", ["社会保险科科长", "就业促进科科长"]),
    ("云岭市发展和改革委员会", "主任", "副主任", ["重点项目科科长", "价格监督科科长"]),
    ("云岭市公安局", "局长", "副局长", ["户政管理科科长", "出入境管理科科长"]),
    ("云岭市交通运输局", "局长", "副局长", ["运输管理科科长", "工程建设科科长"]),
    ("云岭市卫生健康委员会", "主任", "副主任", ["医政医管科科长", "疾病预防控制科科长"]),
    ("云岭市教育体育局", "局长", "副局长", ["基础教育科科长", "学生资助管理中心主任"]),
    ("云岭市农业农村局", "局长", "副局长", ["乡村产业发展科科长", "农田建设管理科科长"]),
    ("云岭市生态环境局", "局长", "副局长", ["环境执法支队支队长", "环评审批科科长"]),
    ("云岭市城市管理综合执法局", "局长", "副局长", ["市容环卫科科长", "执法监督科科长"]),
    ("云岭市民政局", "局长", "副局长", ["社会救助科科长", "养老服务科科长"]),
    ("云岭市医疗保障局", "局长", "副局长", ["待遇保障科科长", "医药服务管理科科长"]),
    ("云岭市工业和信息化局", "局长", "副局长", ["产业发展科科长", "中小企业服务科科长"]),
    ("云岭市商务局", "局长", "副局长", ["对外贸易科科长", "市场体系建设科科长"]),
    ("云岭市投资促进局", "局长", "副局长", ["项目服务科科长", "招商引资科科长"]),
    ("云岭市财政局", "局长", "副局长", ["预算科科长", "国库支付中心主任"]),
    ("云岭市水利局", "局长", "副局长", ["水旱灾害防御科科长", "农村水利水电科科长"]),
    ("云岭市文化和旅游局", "局长", "副局长", ["市场管理科科长", "文物保护科科长"]),
    ("云岭市应急管理局", "局长", "副局长", ["安全生产综合协调科科长", "危化品监管科科长"]),
    ("云岭市司法局", "局长", "副局长", ["公共法律服务管理科科长", "行政复议科科长"]),
    ("云岭市林业和草原局", "局长", "副局长", ["森林资源管理科科长", "森林草原防火科科长"]),
    ("云岭市退役军人事务局", "局长", "副局长", ["优抚科科长", "就业创业科科长"]),
    ("云岭市信访局", "局长", "副局长", ["来访接待科科长", "督查督办科科长"]),
    ("云岭市审计局", "局长", "副局长", ["经济责任审计科科长", "财政审计科科长"]),
    ("云岭市统计局", "局长", "副局长", ["综合科科长", "普查中心主任"]),
    ("云岭市国有资产监督管理委员会", "主任", "副主任", ["产权管理科科长", "企业改革科科长"]),
    ("云岭市科学技术局", "局长", "副局长", ["科技成果转化科科长", "高新技术科科长"]),
    ("云岭市能源局", "局长", "副局长", ["电力科科长", "新能源科科长"]),
]  # fmt: skip

#: Other county-level units under the city government: (code, name, posts).
OTHER_UNITS = [
    ("高新区", "云岭高新技术产业开发区管理委员会", ["常务副主任", "副主任", "副主任", "副主任"]),
    ("一院", "云岭市第一人民医院", ["党委书记", "院长", "副院长"]),
    ("职院", "云岭职业技术学院", ["党委书记", "院长"]),
    ("城投", "云岭市城市建设投资集团有限公司", ["党委书记、董事长", "总经理"]),
    ("交投", "云岭市交通投资集团有限公司", ["党委书记、董事长", "总经理"]),
    ("交易中心", "云岭市公共资源交易中心", ["主任"]),
]  # fmt: skip

#: The counties and districts (fictional).
COUNTIES = ["青溪区", "明湖区", "松源县", "云台县", "南岭县", "梅岭县", "翠屏县", "玉泉县",
            "彩云彝族自治县"]  # fmt: skip
TOWNSHIPS = ["城关镇", "东城街道", "西城街道", "河口镇", "龙潭乡", "新街镇", "大坪乡", "石门镇",
             "岔河乡", "桃园镇", "柏林乡", "高桥镇", "马街镇", "杨柳乡", "白鹤乡", "青龙镇",
             "双河乡", "竹园镇", "小街乡", "营盘镇"]  # fmt: skip
VILLAGES = ["大营", "小河", "新寨", "箐口", "坝心", "沙沟", "石龙", "清水", "团结", "丰收", "凤凰",
            "龙潭", "松林", "白石", "中和", "三合", "双龙", "柏树", "杨柳", "河湾", "梨园", "茶山",
            "竹林", "太平"]  # fmt: skip

#: The "seven-in-one" key work the city-level leaders share, and what each share is about.
KEY_WORK = {
    "重点项目建设": ["云岭国际陆港物流园一期", "滇中引水云岭段配套工程", "云岭至松源高速公路",
                     "市第一人民医院新院区", "明湖生态治理二期", "高新区标准化厂房三期",
                     "城市轨道交通前期研究", "翠屏水库扩建"],
    "招商引资": ["新能源电池材料产业链招商", "高原特色农产品精深加工招商", "生物医药产业招商",
                 "文旅康养项目招商", "数字经济产业园招商", "粤港澳大湾区产业转移承接"],
    "产业转型升级": ["卷烟工业技改升级", "绿色铝硅产业培育", "花卉产业全产业链提升",
                     "蔬菜出口基地建设", "规上工业企业倍增计划", "县域特色产业园区提质"],
    "城乡建设管理": ["老旧小区改造", "城市更新试点", "农村人居环境整治", "县城补短板强弱项",
                     "城市停车设施建设", "市政管网改造"],
    "生态环境保护": ["明湖流域水污染防治", "中央环保督察反馈问题整改", "矿山生态修复",
                     "森林草原防灭火", "城市黑臭水体治理", "九大高原湖泊保护治理"],
    "民生保障与乡村振兴": ["巩固拓展脱贫攻坚成果", "高校毕业生就业促进", "义务教育优质均衡发展",
                           "县域医共体建设", "养老服务体系建设", "农村饮水安全巩固提升"],
    "营商环境与作风建设": ["“一网通办”政务服务改革", "工程建设项目审批制度改革",
                           "“为官不为”问题专项整治", "12345热线工单办理提质",
                           "惠企政策直达快享", "基层减负专项行动"],
}  # fmt: skip
LIAISON_SUBJECTS = ["农产品加工园区", "工业园区标准化厂房项目", "高标准农田建设项目",
                    "人居环境整治示范村", "老旧小区改造项目", "中小学校舍改扩建项目",
                    "县域医共体建设", "特色小镇建设", "水库除险加固工程", "农村饮水安全工程",
                    "重点民营企业", "招商引资签约项目"]  # fmt: skip

#: Finding descriptions by situation ({unit}, {n}).
DESCRIPTIONS = {
    "no_drive": ["{unit}年度重点任务推进缓慢，{n}项工作仍停留在方案阶段，班子满足于“不出事”",
                 "{unit}近两年工作思路无新举措，对标先进地区差距明显，群众反映“年年老样子”"],
    "thoughtless_copying": ["{unit}制定的实施方案与上级文件大段雷同，未结合本地实际细化措施",
                            "{unit}上报的整改报告照搬其他单位材料，{n}处内容与本单位实际不符"],
    "weak_implementation": ["{unit}承担的市级重点任务{n}项未按期完成，已完成事项台账不实",
                            "{unit}对安全隐患排查整治落实不力，暗访发现同类问题反复出现{n}次"],
    "unfit_for_post": ["{unit}负责同志对分管领域情况不熟悉，面对群众咨询答非所问",
                       "{unit}班子统筹能力不足，重点项目协调议而不决，推进受阻{n}个月"],
    "passive_go_slow": ["{unit}工作人员对群众办件消极应付，以“系统故障”为由拒不受理",
                        "{unit}对企业反映的问题推诿拖延，{n}个工作日未作答复"],
    "merely_reacts": ["{unit}对群众来信来访只转不办，同一问题被重复投诉{n}次",
                      "{unit}对上级交办事项被动应付，督办{n}次仍未拿出解决方案"],
    "procrastination": ["{unit}办理业务超出承诺时限{n}个工作日，群众多次催办无果",
                        "{unit}项目审批材料在科室间流转{n}天无人跟进"],
    "ignores_orders": ["{unit}个别干部无视禁令，工作日中午饮酒后返岗",
                       "{unit}在明令禁止后仍以“调研”名义组织到景区参观，涉及{n}人"],
    "divided_leadership": ["{unit}班子成员之间不团结，重大事项未经集体研究由个人决定",
                           "{unit}民主生活会批评与自我批评流于形式，班子成员各自为政"],
    "passes_the_buck": ["{unit}对职责交叉的占道经营问题与相关部门相互推诿，{n}个月无人处理",
                        "{unit}将本单位职责事项推给乡镇，造成群众多头跑、反复跑"],
    "talk_no_action": ["{unit}会议多、文件多，近半年印发文件{n}件，实际落实措施寥寥",
                       "{unit}在汇报中承诺的{n}项事项大多未落地，“以会议落实会议”"],
    "no_initiative": ["{unit}营商环境评价排名靠后，未主动研究改进措施",
                      "{unit}对新业态监管“等靠要”，缺乏主动作为意识"],
    "superficial": ["{unit}调研走马观花，调研报告与基层实际情况不符",
                    "{unit}迎检材料“重留痕轻实效”，台账资料{n}册而实际工作未开展"],
    "careerism": ["{unit}负责同志热衷于拉关系、跑门子，对分管工作不闻不问",
                  "{unit}个别干部把精力放在“经营”人脉上，群众评价“只琢磨人不琢磨事”"],
    "extravagance": ["{unit}超标准安排公务接待，{n}人次用餐费用超出标准",
                     "{unit}以培训名义在高档酒店用公款组织聚餐，涉及{n}人"],
    "absent_from_post": ["暗访发现{unit}办事大厅工作时间{n}个窗口无人值守，工作人员离岗未请假",
                         "{unit}工作人员长期“在编不在岗”，{n}个月未到岗履职仍领取工资"],
}  # fmt: skip
#: A situation's cadre type (六型), where one fits.
TYPES_OF = {"absent_from_post": "dozing", "passive_go_slow": "lukewarm",
            "procrastination": "lukewarm", "passes_the_buck": "buck_passing",
            "thoughtless_copying": "puppet", "superficial": "going_through_the_motions",
            "talk_no_action": "all_talk", "merely_reacts": "dozing"}  # fmt: skip
OUTSIDERS = [("media", "云岭日报社记者"), ("media", "云岭广播电视台记者"),
             ("npc_deputy", "市人大代表"), ("cppcc_member", "市政协委员"),
             ("conduct_supervisor", "政风行风监督员"),
             ("special_supervisor", "特邀监察员")]  # fmt: skip
UNDERCOVER_THEMES = ["政务服务窗口作风", "乡镇便民服务中心值守", "工程建设项目审批",
                     "工作日午间纪律", "节假日公务接待", "惠企政策落实",
                     "12345热线工单办理"]  # fmt: skip
REPORTS = [
    ("群众通过12345热线反映{unit}{post}{name}对企业开办申请一拖再拖", "procrastination"),
    ("群众来信反映{unit}{post}{name}长期不在岗，分管工作无人负责", "absent_from_post"),
    ("群众举报{unit}{post}{name}接受管理服务对象宴请", "extravagance"),
    ("企业反映{unit}{post}{name}对项目手续办理推诿扯皮", "passes_the_buck"),
    ("网民反映{unit}{post}{name}对群众诉求敷衍应付", "merely_reacts"),
    ("群众反映{unit}{post}{name}落实惠民政策打折扣", "weak_implementation"),
]  # fmt: skip
REFORMS = [
    ("“一枚印章管审批”相对集中行政许可权改革试点", "审批权限划转中可能出现事项衔接不畅、办理延误"),
    ("工程建设项目“拿地即开工”审批改革", "容缺受理后补齐材料存在不能按期补齐的风险"),
    ("农村集体经营性建设用地入市试点", "入市定价和收益分配缺少先例，存在决策失误风险"),
    ("国有企业混合所有制改革", "引入战略投资者估值、程序存在争议风险"),
    ("县域医共体医保基金打包付费改革", "打包付费测算偏差可能造成基金结余或超支"),
    ("“一网通办”数据共享改革", "部门数据对接中可能出现数据错误、系统停摆"),
]  # fmt: skip


#: What happens to a case: (flow, detail), the ones every demo shows first.
REQUIRED_FLOWS = (
    ("measure", "admonishment"), ("handling", "dismissal"), ("appeal", "revoked"),
    ("measure", "talk"), ("measure", "written_inquiry"),
    ("measure", "accountability:circulated_criticism"), ("handling", "post_adjustment"),
    ("appeal", "upheld"), ("appeal", "changed"), ("handling", "ordered_resignation"),
    ("measure", "accountability:organizational_handling"),
    ("measure", "accountability:admonishment"), ("handling", "transfer"),
    ("measure", "accountability:disciplinary_sanction"), ("handling", "non_leadership"),
    ("handling", "off_post_training"), ("handling", "demotion"),
    ("appeal", "revoked_handling"), ("open", ""), ("dropped", ""),
)  # fmt: skip
FLOW_WEIGHTS = {
    ("open", ""): 18, ("dropped", ""): 6, ("measure", "talk"): 16,
    ("measure", "written_inquiry"): 10, ("measure", "admonishment"): 14,
    ("measure", "accountability:circulated_criticism"): 9,
    ("measure", "accountability:admonishment"): 4,
    ("measure", "accountability:organizational_handling"): 3,
    ("measure", "accountability:disciplinary_sanction"): 3,
    ("handling", "transfer"): 1, ("handling", "non_leadership"): 1,
    ("handling", "off_post_training"): 1, ("handling", "post_adjustment"): 1,
    ("handling", "dismissal"): 1, ("appeal", "upheld"): 3, ("appeal", "changed"): 2,
    ("appeal", "revoked"): 2,
}  # fmt: skip


def chinese_name(rng: random.Random, gender: str, taken: set[str]) -> str:
    chars = FEMALE if gender == "female" else MALE
    while True:
        given = "".join(rng.choice(chars) for _ in range(rng.choice((1, 2, 2, 2))))
        name = rng.choice(SURNAMES) + given
        if name not in taken:
            taken.add(name)
            return name


def between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def on(month: int, day: int, year: int = YEAR) -> date:
    return date(year, month, day)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def zh(catalogue: dict[str, tuple], code: str) -> str:
    return catalogue[code][0]


# --- the script of the year ------------------------------------------------------------


@dataclass(eq=False)
class Unit:
    key: str
    name: str
    group: str  # top, party, bureau, other, county, county_body, township
    parent: Unit | None = None
    county: str = ""
    cadres: list[Cadre] = field(default_factory=list)
    deputy_title: str = "四级调研员"


@dataclass(eq=False)
class Cadre:
    key: str
    name: str
    unit: Unit
    post: str
    rank: str
    post_kind: str
    tier: int
    gender: str = ""
    birth: date = date(1980, 1, 1)
    since: date = date(2024, 1, 1)
    task: str | None = None  # the step that assigned their liaison task
    key_work: list[str] = field(default_factory=list)
    roles: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return f"{self.unit.name}{self.post}{self.name}"


class Script:
    """Writes the year as steps; every choice from one seeded random generator."""

    def __init__(self, seed: int, scale: float) -> None:
        if not scale > 0:
            msg = f"scale must be above 0, not {scale}"
            raise ValueError(msg)
        self.seed, self.scale = seed, scale
        self.rng = random.Random(f"youwei-demo:{seed}")
        self.steps: list[Step] = []
        self.index: dict[str, Step] = {}
        self.lanes: dict[str, str] = {}
        self.names: set[str] = set()
        self.units: list[Unit] = []
        self.cadres: list[Cadre] = []
        self.facts: dict[str, Any] = defaultdict(list)
        self.counter = itertools.count(1)
        self.ratings_of: dict[str, int] = {}
        self.bulk_sizes: dict[str, int] = {}
        self.assessed_before: dict[str, tuple[str, ...]] = {}

    def scaled(self, full: int, least: int) -> int:
        return max(least, round(full * self.scale))

    # --- steps ---------------------------------------------------------------------------

    def add(self, key: str, service: str, method: str, agency: str, *, after: tuple = (),
            lane: str | None = None, **fields: Any) -> str:  # fmt: skip
        """A command step; it runs after the steps its placeholders name, ``after``, and
        the last step of ``lane`` (steps that change one record go one at a time)."""
        command_id = str(uuid.uuid5(NAMESPACE, f"{self.seed}:{self.scale:g}:{key}"))
        payload = {"command_id": command_id, "actor": {"agency": agency, "person": PERSON},
                   **fields}  # fmt: skip
        return self._append(Step(key, service, method, payload), after, lane)

    def find_case(self, key: str, cadre: Cadre, basis: str, **named: Any) -> str:
        payload = {"cadre_id": Ref(cadre.key, "cadre_id"), "basis": basis, **named}
        return self._append(Step(key, "accountability", "list_cases", payload, find=True), (), key)

    def _append(self, step: Step, after: tuple, lane: str | None) -> str:
        if step.key in self.index:
            msg = f"step {step.key} twice"
            raise AssertionError(msg)
        needs = [*after]
        needs += [p.key if isinstance(p, Ref) else p.case for p in placeholders(step.payload)]
        if lane is not None and lane in self.lanes:
            needs.append(self.lanes[lane])
        for need in needs:
            if need not in self.index:
                msg = f"step {step.key} needs {need}, which comes later or not at all"
                raise AssertionError(msg)
        step.after = tuple(dict.fromkeys(n for n in needs if n != step.key))
        if lane is not None:
            self.lanes[lane] = step.key
        self.steps.append(step)
        self.index[step.key] = step
        return step.key

    # --- the city ------------------------------------------------------------------------

    def unit(self, key: str, name: str, group: str, parent: Unit | None, **more: Any) -> Unit:
        unit = Unit(key, name, group, parent, **more)
        self.units.append(unit)
        return unit

    def build_city(self) -> None:
        scaled = self.scale
        city = self.unit("unit/city", CITY, "city", None)
        self.top = {code: self.unit(f"unit/{code}", name, "top", city)
                    for code, (name, _) in TOP_UNITS.items()}  # fmt: skip
        party_codes = list(PARTY_UNITS)[: max(1, round(len(PARTY_UNITS) * scaled))]
        self.party = {code: self.unit(f"unit/{code}", PARTY_UNITS[code][0], "party",
                                      self.top["市委"])
                      for code in party_codes}  # fmt: skip
        self.bureaus = []
        for n, (name, _, deputy, _) in enumerate(BUREAUS[: max(2, round(31 * scaled))]):
            self.bureaus.append(self.unit(f"unit/bureau{n}", name, "bureau", self.top["市政府"],
                                          deputy_title=deputy))  # fmt: skip
        self.others = {}
        for code, name, _ in OTHER_UNITS[: max(1, round(len(OTHER_UNITS) * scaled))]:
            self.others[code] = self.unit(f"unit/{code}", name, "other", self.top["市政府"])
        self.counties = []
        for n, county in enumerate(COUNTIES[: max(1, round(9 * scaled))]):
            root = self.unit(f"unit/county{n}", county, "county", city, county=county)
            district = county.endswith("区")
            bodies = {
                "委": self.unit(f"unit/county{n}/party", f"中共{county}委员会", "county_body",
                               root, county=county),
                "政府": self.unit(f"unit/county{n}/gov", f"{county}人民政府", "county_body",
                                  root, county=county, deputy_title=f"副{county[-1]}长"),
                "人大": self.unit(f"unit/county{n}/npc", f"{county}人大常委会", "county_body",
                                  root, county=county),
                "政协": self.unit(f"unit/county{n}/cppcc", f"政协{county}委员会", "county_body",
                                  root, county=county),
                "法院": self.unit(f"unit/county{n}/court", f"{county}人民法院", "county_body",
                                  root, county=county),
                "检察院": self.unit(f"unit/county{n}/procuratorate", f"{county}人民检察院",
                                    "county_body", root, county=county),
            }  # fmt: skip
            townships = self.rng.sample(TOWNSHIPS, 5)
            kept = townships[: 3 if scaled >= 0.5 else 2]
            towns = [self.unit(f"unit/county{n}/town{t}", f"{county}{name}", "township", root,
                               county=county)
                     for t, name in enumerate(kept)]  # fmt: skip
            self.counties.append({"root": root, "bodies": bodies, "towns": towns,
                                  "townships": townships, "district": district})  # fmt: skip
        for unit in self.units:
            fields = {"name": unit.name}
            if unit.parent is not None:
                fields["parent_id"] = Ref(unit.parent.key, "unit_id")
            self.add(unit.key, "cadre_registry", "register_unit", "中共云岭市委组织部", **fields)

    def county_posts(self) -> list[tuple[Unit, str, str, int]]:
        """Every county-level post of the units kept: (unit, post, post kind, tier)."""
        posts: list[tuple[Unit, str, str, int]] = []

        def listed(unit: Unit, titles: list[str]) -> None:
            for n, title in enumerate(titles):
                posts.append((unit, title, "leadership", min(n, 2)))

        for code, (_, titles) in TOP_UNITS.items():
            listed(self.top[code], titles)
        for code, unit in self.party.items():
            listed(unit, PARTY_UNITS[code][1])
        for unit, (_, head, deputy, _) in zip(self.bureaus, BUREAUS, strict=False):
            listed(
                unit,
                [
                    f"党组书记、{head}",
                    f"党组成员、{deputy}",
                    deputy,
                    deputy,
                    deputy,
                    "党组成员、总工程师",
                ],
            )
            posts += [(unit, "二级调研员", "non_leadership", 3),
                      (unit, "三级调研员", "non_leadership", 3)]  # fmt: skip
        for code, unit in self.others.items():
            listed(unit, next(p for c, _, p in OTHER_UNITS if c == code))
        for county in self.counties:
            bodies, head = county["bodies"], "区" if county["district"] else "县"
            party = f"{head}委"
            listed(bodies["委"], [f"{party}书记", f"{party}副书记",
                                 f"{party}常委、纪委书记、监委主任",
                                 f"{party}常委、组织部部长", f"{party}常委、宣传部部长",
                                 f"{party}常委、政法委书记", f"{party}常委、统战部部长",
                                 f"{party}常委、{party}办公室主任"])  # fmt: skip
            listed(bodies["政府"], [f"{party}副书记、{head}长", f"{party}常委、常务副{head}长",
                                   *[f"副{head}长"] * 6])  # fmt: skip
            listed(bodies["人大"], [f"{head}人大常委会主任", *[f"{head}人大常委会副主任"] * 3])
            listed(bodies["政协"], [f"{head}政协主席", *[f"{head}政协副主席"] * 3])
            listed(bodies["法院"], ["院长", "副院长"])
            listed(bodies["检察院"], ["检察长"])
            posts += [(bodies["委"], "二级调研员", "non_leadership", 3),
                      (bodies["政府"], "三级调研员", "non_leadership", 3)]  # fmt: skip
        return posts

    def section_posts(self) -> list[tuple[Unit, str, str, str, int]]:
        """Section-level posts and staff: (unit, post, rank, post kind, tier)."""
        posts = []
        for unit, (_, _, _, sections) in zip(self.bureaus, BUREAUS, strict=False):
            posts += [(unit, title, "township_section", "leadership", 0 if n == 0 else 1)
                      for n, title in enumerate(sections)]  # fmt: skip
            posts.append((unit, "窗口工作人员", "staff", "non_leadership", 2))
        for county in self.counties:
            for town in county["towns"]:
                head = (
                    "镇长"
                    if town.name.endswith("镇")
                    else ("乡长" if town.name.endswith("乡") else "办事处主任")
                )
                posts += [(town, "党委书记" if not town.name.endswith("街道") else "党工委书记",
                           "township_section", "leadership", 0),
                          (town, head, "township_section", "leadership", 0),
                          (town, "党委副书记", "township_section", "leadership", 1),
                          (town, "便民服务中心主任", "township_section", "leadership", 1),
                          (town, "便民服务中心工作人员", "staff", "non_leadership", 2)]  # fmt: skip
        return posts

    def register(self, unit: Unit, post: str, rank: str, post_kind: str, tier: int) -> Cadre:
        rng = self.rng
        female_share = {"city_level": 0.2, "county_division": 0.3}.get(rank, 0.45)
        gender = "female" if rng.random() < female_share else "male"
        born = {"city_level": (1963, 1974), "county_division": (1965, 1988),
                "township_section": (1975, 1993), "staff": (1986, 2001)}[rank]  # fmt: skip
        cadre = Cadre(f"cadre/{len(self.cadres) + 1:04d}", chinese_name(rng, gender, self.names),
                      unit, post, rank, post_kind, tier, gender=gender,
                      birth=between(rng, date(born[0], 1, 1), date(born[1], 12, 31)),
                      since=between(rng, date(2019 if rank != "city_level" else 2021, 1, 1),
                                    date(YEAR - 1, 12, 31)))  # fmt: skip
        self.cadres.append(cadre)
        unit.cadres.append(cadre)
        self.add(cadre.key, "cadre_registry", "register_cadre", "中共云岭市委组织部",
                 name=cadre.name, gender=gender, birth_date=cadre.birth,
                 unit_id=Ref(unit.key, "unit_id"), post=post, rank=rank, post_kind=post_kind,
                 effective_date=cadre.since)  # fmt: skip
        return cadre

    def build_cadres(self) -> None:
        units = {**self.top, **self.party, **self.others}
        for code, post, post_kind in LEADERS[: self.scaled(CITY_LEADERS, 3)]:
            unit = units.get(code) or self.top["市委"]
            self.register(unit, post, "city_level", post_kind, 0)
        posts = self.county_posts()
        order = {unit: n for n, unit in enumerate(dict.fromkeys(u for u, *_ in posts))}
        posts.sort(key=lambda p: (p[3], order[p[0]]))
        wanted = self.scaled(COUNTY_CADRES, 8)
        chosen = posts[:wanted]
        padding = [u for u in order if u.group in ("bureau", "county_body")] or list(order)
        for n in range(wanted - len(chosen)):  # the kept units have fewer posts than wanted
            chosen.append((padding[n % len(padding)], "四级调研员", "non_leadership", 3))
        chosen.sort(key=lambda p: (order[p[0]], p[3]))
        for unit, post, post_kind, tier in chosen:
            self.register(unit, post, "county_division", post_kind, tier)
        sections = sorted(self.section_posts(), key=lambda p: p[4])
        wanted = self.scaled(SECTION_CADRES, 4)
        staff = [p for p in sections if p[2] == "staff"][: wanted // 5]
        chosen = [p for p in sections if p[2] != "staff"][: wanted - len(staff)] + staff
        for unit, post, rank, post_kind, tier in chosen:
            self.register(unit, post, rank, post_kind, tier)

    def assign_tasks(self) -> None:
        rng = self.rng
        leaders = [c for c in self.cadres if c.rank == "city_level"]
        shares = [f"{area}：{item}" for area, items in KEY_WORK.items() for item in items]
        rng.shuffle(shares)
        roles = ("牵头", "协调推进", "督促落实")
        pool = iter(f"{share}（{role}）" for role in roles for share in shares)
        for n, leader in enumerate(leaders):
            count = 3 if n < 14 else (2 if leader.post in ("副市长", "市政府党组成员") else 1)
            for k in range(count):
                title = next(pool)
                key = self.add(f"task/keywork/{leader.key}/{k}", "cadre_registry",
                               "assign_responsibility", "中共云岭市委、云岭市人民政府",
                               kind="key_work_share", title=title,
                               owner_id=Ref(leader.key, "cadre_id"),
                               effective_date=on(1, 8))  # fmt: skip
                leader.key_work.append(key)
        for cadre in self.cadres:
            if cadre.rank == "county_division":
                self.liaison_task(cadre, on(1, 15))

    def liaison_task(self, cadre: Cadre, day: date, after: tuple = ()) -> None:
        rng = self.rng
        county = rng.choice(self.counties)
        if rng.random() < 0.55:
            title = (f"挂钩联系{county['root'].name}{rng.choice(county['townships'])}"
                     f"{rng.choice(VILLAGES)}村乡村振兴工作")  # fmt: skip
        else:
            title = f"联系服务{county['root'].name}{rng.choice(LIAISON_SUBJECTS)}"
        cadre.task = self.add(f"task/liaison/{cadre.key}/{day}", "cadre_registry",
                              "assign_responsibility", "中共云岭市委组织部", after=after,
                              kind="liaison_task", title=title,
                              owner_id=Ref(cadre.key, "cadre_id"),
                              effective_date=day)  # fmt: skip

    # --- the year: personnel moves -------------------------------------------------------

    def personnel_moves(self) -> None:
        """Ordinary moves of the year: exchanges of posts between departments, and a
        vice-mayor elected to the people's congress, whose key work passes on."""
        rng = self.rng
        deputies = [c for c in self.cadres if c.rank == "county_division"
                    and c.unit.group == "bureau" and c.tier == 2]  # fmt: skip
        for n, cadre in enumerate(rng.sample(deputies, min(len(deputies),
                                                           self.scaled(6, 1)))):  # fmt: skip
            target = rng.choice([b for b in self.bureaus if b is not cadre.unit])
            cadre.roles.add("moved")
            self.add(f"move/{cadre.key}", "cadre_registry", "transfer", "中共云岭市委组织部",
                     cadre_id=Ref(cadre.key, "cadre_id"), unit_id=Ref(target.key, "unit_id"),
                     post=target.deputy_title, effective_date=on(3 + n % 6, 1))  # fmt: skip
        vice_mayors = [c for c in self.cadres if c.post == "副市长"]
        if len(vice_mayors) >= 2 and "市人大" in self.top:
            leaving, taking = vice_mayors[-1], vice_mayors[0]
            leaving.roles.add("moved")
            self.add(f"move/{leaving.key}", "cadre_registry", "transfer", "中共云岭市委组织部",
                     cadre_id=Ref(leaving.key, "cadre_id"),
                     unit_id=Ref(self.top["市人大"].key, "unit_id"),
                     post="市人大常委会副主任", effective_date=on(6, 30))  # fmt: skip
            for task in leaving.key_work:
                self.add(f"{task}/handover", "cadre_registry", "assign_responsibility",
                         "中共云岭市委、云岭市人民政府", task_id=Ref(task, "task_id"),
                         owner_id=Ref(taking.key, "cadre_id"),
                         effective_date=on(6, 30))  # fmt: skip
            self.facts["key_work_handed_over"] = len(leaving.key_work)

    # --- the year: reform efforts --------------------------------------------------------

    def reform_efforts(self) -> None:
        rng = self.rng
        self.efforts = []
        for n, (title, risk) in enumerate(REFORMS[: self.scaled(6, 1)]):
            unit = self.bureaus[n % len(self.bureaus)]
            pool = [c for c in self.cadres if c.rank in ("county_division", "township_section")
                    and not c.roles]  # fmt: skip
            participants = [c for c in unit.cadres if c in pool][:4]
            others = [c for c in pool if c not in participants]
            participants += rng.sample(others, min(len(others), rng.randint(2, 5)))
            registered = between(rng, on(1, 10), on(3, 20))
            starts = registered + timedelta(days=rng.randint(0, 10))
            key = self.add(f"reform/{n}", "accountability", "register_reform_effort",
                           "中共云岭市委全面深化改革委员会办公室",
                           unit_id=Ref(unit.key, "unit_id"), title=title,
                           risk_assessment=f"风险评估：{risk}；已制定应急预案，实行过程留痕、"
                                           "定期评估，报市委深改委备案。",
                           risk_level=("medium", "high", "low")[n % 3],
                           participants=[Ref(c.key, "cadre_id") for c in participants],
                           registered_on=registered, starts_on=starts,
                           ends_on=on(12, 31) if n % 2 == 0 else None)  # fmt: skip
            self.efforts.append({"key": key, "title": title, "participants": participants,
                                 "starts": starts})  # fmt: skip

    # --- the year: inspections, findings, letters ----------------------------------------

    def inspections(self) -> None:
        rng = self.rng
        count = self.scaled(60, 4)
        kinds = ["undercover_visit", "inspection_tour", "supervision_check",
                 "responsibility_check"]  # fmt: skip
        kinds += rng.choices(kinds, weights=(40, 20, 23, 17), k=count - 4)
        span = (on(11, 20) - on(2, 16)).days
        starts = [on(2, 16) + timedelta(days=int((n + rng.random()) * span / count))
                  for n in range(count)]  # fmt: skip
        kinds = kinds[:2] + rng.sample(kinds[2:], len(kinds) - 2)
        targets = [u for u in self.units if u.group in ("bureau", "county_body", "township",
                                                        "other") and u.cadres]  # fmt: skip
        window_units = [u for u in targets if u.group in ("bureau", "township")] or targets
        situations = list(SITUATIONS)
        rng.shuffle(situations)
        wanted_findings = self.scaled(240, 16)
        per_inspection = [wanted_findings // count + (1 if n < wanted_findings % count else 0)
                          for n in range(count)]  # fmt: skip
        self.findings: list[dict[str, Any]] = []
        commission = "市纪委监委第{n}监督检查室"
        for n, (kind, started) in enumerate(zip(kinds, starts, strict=True)):
            team = [{"name": f"{chinese_name(rng, 'male', self.names)}"
                             f"（{commission.format(n=rng.choice('一二三四五六'))}）",
                     "role": "commission"} for _ in range(rng.randint(1, 2))]  # fmt: skip
            if kind == "undercover_visit":
                for role, org in rng.sample(OUTSIDERS, rng.randint(1, 3)):
                    gender = rng.choice(("male", "female"))
                    team.append({"name": f"{chinese_name(rng, gender, self.names)}（{org}）",
                                 "role": role})  # fmt: skip
                title = f"{started.month}月{rng.choice(UNDERCOVER_THEMES)}暗访"
                units = rng.sample(window_units, min(len(window_units), rng.randint(1, 3)))
            elif kind == "inspection_tour":
                units = [rng.choice(targets)]
                title = f"市委第{rng.choice('一二三四五')}巡察组对{units[0].name}开展常规巡察"
            elif kind == "supervision_check":
                units = rng.sample(targets, min(len(targets), rng.randint(1, 3)))
                theme = rng.choice(list(KEY_WORK))
                title = f"市委督查室、市政府督查室{theme}专项督查"
            else:
                units = [rng.choice(targets)]
                title = f"{YEAR}年度党风廉政建设和作风建设责任制检查（{units[0].name}）"
                if rng.random() < 0.5:
                    name = chinese_name(rng, "female", self.names)
                    team.append({"name": f"{name}（政风行风监督员）",
                                 "role": "conduct_supervisor"})  # fmt: skip
            key = self.add(f"inspection/{n:03d}", "inspections", "open_inspection",
                           "云岭市纪委监委", kind=kind, title=title, started_on=started,
                           team=team)  # fmt: skip
            for k in range(per_inspection[n]):
                unit = units[k % len(units)]
                situation = situations.pop() if situations else rng.choice(list(SITUATIONS))
                self.finding(key, kind, started, unit, situation, f"{n:03d}-{k}")

    def finding(self, inspection: str, kind: str, started: date, unit: Unit, situation: str,
                number: str) -> None:  # fmt: skip
        rng = self.rng
        found = started + timedelta(days=rng.randint(0, 4))
        eligible = [c for c in unit.cadres if c.rank != "city_level"
                    and not c.roles & {"moved", "reform"}
                    and sum(f["cadre"] is c for f in self.findings) < 2]  # fmt: skip
        cadre = rng.choice(eligible) if eligible and rng.random() < 0.65 else None
        description = rng.choice(DESCRIPTIONS[situation]).format(
            unit=unit.name if cadre is None else f"{unit.name}{cadre.post}{cadre.name}",
            n=rng.randint(2, 9),
        )
        fields: dict[str, Any] = {
            "inspection_id": Ref(inspection, "inspection_id"),
            "unit_id": Ref(unit.key, "unit_id"),
            "situation": situation,
            "description": description,
            "typical": rng.random() < 0.2,
            "found_on": found,
        }
        if cadre is not None:
            fields["cadre_id"] = Ref(cadre.key, "cadre_id")
            cadre.roles.add("found")
            if situation in TYPES_OF and rng.random() < 0.6:
                fields["cadre_type"] = TYPES_OF[situation]
        if kind == "undercover_visit":
            films = [
                f"暗访视频 {found:%Y%m%d}-{number} 第{s}段" for s in range(1, rng.randint(2, 4))
            ]
            fields["evidence"] = [{"reference": film, "sha256": digest(film)} for film in films]
        elif rng.random() < 0.5:
            record = f"检查记录 {found:%Y%m%d}-{number}（台账、询问笔录）"
            fields["evidence"] = [{"reference": record, "sha256": digest(record)}]
        key = self.add(f"finding/{number}", "inspections", "record_finding", "云岭市纪委监委",
                       **fields)  # fmt: skip
        self.findings.append({"key": key, "inspection": inspection, "kind": kind, "unit": unit,
                              "cadre": cadre, "situation": situation, "found": found,
                              "typical": fields["typical"]})  # fmt: skip

    def exposures(self) -> None:
        rng = self.rng
        typical = [f for f in self.findings if f["typical"]]
        if len(typical) < 3:  # at least one of each kind of exposure
            typical += [f for f in self.findings if not f["typical"]][: 3 - len(typical)]
        required = ["internal_circular", "undercover_film", "media"]
        for n, finding in enumerate(typical):
            kinds = ["internal_circular"]
            if finding["kind"] == "undercover_visit" or n == 1:
                kinds.append("undercover_film")
            if rng.random() < 0.3 or n == 2:
                kinds.append("media")
            for kind in kinds:
                if kind in required:
                    required.remove(kind)
                day = finding["found"] + timedelta(days=rng.randint(5, 25))
                self.add(f"{finding['key']}/expose/{kind}", "inspections", "expose_finding",
                         "云岭市纪委监委", finding_id=Ref(finding["key"], "finding_id"),
                         exposure=kind, exposed_on=day)  # fmt: skip

    def letters(self) -> None:
        rng = self.rng
        groups: dict[tuple[str, Unit], list[dict]] = defaultdict(list)
        for finding in self.findings:
            groups[(finding["inspection"], finding["unit"])].append(finding)
        wanted = self.scaled(60, 4)
        early = [g for g in groups.items() if max(f["found"] for f in g[1]) <= on(8, 31)]
        late = [g for g in groups.items() if g not in early]
        chosen = early[: max(4, wanted * 3 // 4)]
        chosen += late[: max(0, wanted - len(chosen))]
        outcomes = ["left", "accepted", "rejected_then_accepted", "reported"]
        for n, ((_, unit), findings) in enumerate(chosen):
            issued = max(f["found"] for f in findings) + timedelta(days=rng.randint(7, 20))
            deadline = issued + timedelta(days=rng.choice((30, 45, 60)))
            if deadline > on(10, 31):
                outcome = "accepted" if deadline <= on(12, 20) and rng.random() < 0.5 else "open"
            elif outcomes:
                outcome = outcomes.pop(0)
            else:
                outcome = rng.choices(["accepted", "rejected_then_accepted", "left", "reported"],
                                      weights=(60, 15, 15, 10))[0]  # fmt: skip
            head = next((c for c in unit.cadres if c.task), None)
            if head is None and unit.group == "township":
                county = next(c for c in self.counties if c["root"] is unit.parent)
                head = next((c for c in county["bodies"]["政府"].cadres if c.task), None)
            situations = "、".join(dict.fromkeys(zh(SITUATIONS, f["situation"]) for f in findings))
            fields: dict[str, Any] = {
                "unit_id": Ref(unit.key, "unit_id"),
                "finding_ids": [Ref(f["key"], "finding_id") for f in findings],
                "requirements": f"针对“{situations}”问题，请于{deadline:%Y年%m月%d日}前整改到位，"
                                "举一反三建立长效机制，并书面报告整改情况。",
                "issued_on": issued,
                "deadline": deadline,
            }  # fmt: skip
            if head is not None:
                fields["task_id"] = Ref(head.task, "task_id")
            key = self.add(f"letter/{n:03d}", "inspections", "issue_rectification_letter",
                           "云岭市纪委监委", lane=f"letter/{n:03d}", **fields)  # fmt: skip
            accepted = outcome in ("accepted", "rejected_then_accepted")
            self.facts["letters"].append((deadline, accepted))
            self.facts[f"letters_{outcome}"].append(key)
            if outcome in ("left", "open"):
                continue
            lane = key
            reported = issued + timedelta(days=rng.randint(10, (deadline - issued).days - 12))
            self.add(f"{key}/report/1", "inspections", "report_rectification",
                     "云岭市纪委监委", lane=lane, letter_id=Ref(key, "letter_id"),
                     report=f"{unit.name}已对相关责任人进行批评教育，建立首问负责、限时办结和"
                            "窗口值守制度，整改情况已在单位内部公示。",
                     reported_on=reported)  # fmt: skip
            if outcome == "reported":
                continue
            reviewed = reported + timedelta(days=rng.randint(2, 5))
            if outcome == "rejected_then_accepted":
                self.add(f"{key}/review/1", "inspections", "review_rectification",
                         "云岭市纪委监委", lane=lane, letter_id=Ref(key, "letter_id"),
                         accepted=False, reason="整改报告未附佐证材料，回访发现问题仍有反弹，"
                                               "请补充整改后重新报告。",
                         reviewed_on=reviewed)  # fmt: skip
                reported = reviewed + timedelta(days=2)
                self.add(f"{key}/report/2", "inspections", "report_rectification",
                         "云岭市纪委监委", lane=lane, letter_id=Ref(key, "letter_id"),
                         report="已补充整改佐证材料（制度文件、值守记录、回访台账），反弹问题已整改。",
                         reported_on=reported)  # fmt: skip
                reviewed = reported + timedelta(days=2)
            self.add(f"{key}/review/final", "inspections", "review_rectification",
                     "云岭市纪委监委", lane=lane, letter_id=Ref(key, "letter_id"),
                     accepted=True, reason="经现场复查和群众回访，整改措施落实到位，予以验收。",
                     reviewed_on=reviewed)  # fmt: skip

    # --- the year: accountability cases --------------------------------------------------

    def fits(self, flow: tuple[str, str], cadre: Cadre) -> bool:
        kind, detail = flow
        if kind not in ("handling",) and detail != "revoked_handling":
            return True
        if cadre.roles & {"handled", "successor", "moved", "reform"} or cadre.rank == "city_level":
            return False
        if detail == "non_leadership":
            return cadre.post_kind == "leadership"
        if detail == "demotion":
            return cadre.rank in ("county_division", "township_section")
        if detail == "post_adjustment":
            return cadre.post_kind == "leadership" and cadre.tier == 0
        return True

    def next_flow(self, cadre: Cadre) -> tuple[str, str]:
        for flow in self.pending_flows:
            if self.fits(flow, cadre):
                self.pending_flows.remove(flow)
                return flow
        while True:
            flows, weights = zip(*FLOW_WEIGHTS.items(), strict=True)
            flow = self.rng.choices(flows, weights=weights)[0]
            if self.fits(flow, cadre):
                return flow

    def cases(self) -> None:
        rng = self.rng
        self.pending_flows = list(REQUIRED_FLOWS)
        #: (cadre, the step of an admonishment or accountability in YEAR), for the veto
        self.sanctioned: list[tuple[Cadre, str]] = []
        # findings about a cadre: the accountability service opens the case itself
        for finding in self.findings:
            cadre = finding["cadre"]
            if cadre is None:
                continue
            case = self.find_case(f"case/{finding['key']}", cadre, "finding",
                                  finding_id=Ref(finding["key"], "finding_id"))  # fmt: skip
            problem = zh(SITUATIONS, finding["situation"])
            self.facts["cases_by_policy"].append(case)
            self.chain(case, cadre, finding["found"], self.next_flow(cadre), problem,
                       "督查暗访发现")  # fmt: skip
        # reports from the public, opened here; the first ones about mistakes made in reform
        # efforts registered in advance (容错免责)
        exemptions = max(2, len(self.efforts))
        for n in range(max(self.scaled(40, 12), exemptions + len(REQUIRED_FLOWS))):
            exemption = None
            if n < exemptions:
                effort = self.efforts[n % len(self.efforts)]
                outcome = "exempted" if n % 2 == 0 else "mitigated"
                cadre = rng.choice(effort["participants"])
                occurred = effort["starts"] + timedelta(days=rng.randint(15, 120))
                problem = f"在{effort['title']}中出现失误"
                summary = f"{cadre.label}{problem}，造成部分事项办理延误"
                exemption = (effort, outcome)
            else:
                pool = [c for c in self.cadres if c.rank in ("county_division", "township_section")
                        and not c.roles & {"moved", "reform"}]  # fmt: skip
                cadre = rng.choice(pool)
                flow = self.next_flow(cadre)
                template, situation = rng.choice(REPORTS)
                summary = template.format(unit=cadre.unit.name, post=cadre.post, name=cadre.name)
                problem = zh(SITUATIONS, situation)
                cadre.roles.add("reported")
                occurred = between(rng, on(1, 20), on(8, 31))
            opened = occurred + timedelta(days=rng.randint(5, 25))
            case = self.add(f"case/report/{n:03d}", "accountability", "open_case",
                            "云岭市纪委监委", lane=f"case/report/{n:03d}",
                            cadre_id=Ref(cadre.key, "cadre_id"),
                            basis=[{"kind": "report",
                                    "reference": f"12345热线工单 YL{occurred:%Y%m%d}"
                                                 f"{rng.randint(1000, 9999)}"}],
                            summary=summary, occurred_on=occurred, opened_on=opened)  # fmt: skip
            self.facts["cases_opened_here"].append(case)
            if exemption:
                cadre.roles.add("exempted")
                self.exemption(case, cadre, opened, *exemption)
            else:
                self.chain(case, cadre, opened, flow, problem, "群众举报反映")
        # findings about a unit: its head answers for them (领导责任)
        unit_findings = [f for f in self.findings if f["cadre"] is None]
        for n, finding in enumerate(unit_findings[: self.scaled(20, 2)]):
            heads = [c for c in finding["unit"].cadres if c.rank != "city_level"
                     and c.tier == 0 and not c.roles & {"moved"}]  # fmt: skip
            if not heads:
                continue
            cadre = heads[0]
            problem = zh(SITUATIONS, finding["situation"])
            opened = finding["found"] + timedelta(days=rng.randint(7, 30))
            case = self.add(f"case/unit/{n:03d}", "accountability", "open_case",
                            "云岭市纪委监委", lane=f"case/unit/{n:03d}",
                            cadre_id=Ref(cadre.key, "cadre_id"),
                            basis=[{"kind": "finding",
                                    "finding_id": Ref(finding["key"], "finding_id")}],
                            summary=f"{finding['unit'].name}存在“{problem}”问题，"
                                    f"{cadre.post}{cadre.name}负有主要领导责任",
                            occurred_on=finding["found"], opened_on=opened)  # fmt: skip
            self.facts["cases_opened_here"].append(case)
            flow = rng.choice([("measure", "talk"), ("measure", "written_inquiry"),
                               ("measure", "accountability:circulated_criticism"),
                               ("measure", "admonishment")])  # fmt: skip
            self.chain(case, cadre, opened, flow, problem, "督查暗访发现所在单位")

    def day(self, case: str, planned_open: date, day: date) -> CaseDay:
        return CaseDay(case, day, planned_open, case in self.facts["cases_by_policy"])

    def chain(self, case: str, cadre: Cadre, opened: date, flow: tuple[str, str],
              problem: str, source: str) -> None:  # fmt: skip
        """The steps of a case after it opened, planned from ``opened``."""
        rng = self.rng
        kind, detail = flow
        self.facts["flows"].append((case, kind, detail))
        at = opened
        actor = "云岭市纪委监委"

        def later(low: int, high: int) -> CaseDay:
            nonlocal at
            at = at + timedelta(days=rng.randint(low, high))
            return self.day(case, opened, at)

        if kind == "open":
            if rng.random() < 0.5:
                self.add(f"{case}/statement", "accountability", "record_statement", actor,
                         lane=case, case_id=Ref(case, "case_id"),
                         statement="本人对反映的问题作出说明，情况正在进一步核实中。",
                         made_on=later(2, 8))  # fmt: skip
            return
        if kind == "dropped":
            self.add(f"{case}/close", "accountability", "close_case", actor, lane=case,
                     case_id=Ref(case, "case_id"),
                     conclusion="经核查，反映问题不属实，予以了结，并向被反映人反馈。",
                     closed_on=later(10, 25))  # fmt: skip
            return
        if rng.random() < 0.5 or kind == "appeal":
            self.add(f"{case}/statement", "accountability", "record_statement", actor,
                     lane=case, case_id=Ref(case, "case_id"),
                     statement=rng.choice(["对反映的问题无异议，愿意深刻检讨、立即整改。",
                                           "当日因参加上级会议外出，已向分管领导口头请假。",
                                           "问题属实，但系历史遗留问题，恳请组织综合考虑。"]),
                     made_on=later(2, 7))  # fmt: skip
        handling = detail if kind == "handling" else None
        if detail == "revoked_handling":
            handling = "dismissal"
        if handling:
            decision = self.handling(case, cadre, handling, later(5, 20), problem, source)
            what = zh(HANDLINGS, handling)
        else:
            measure = detail if kind == "measure" else rng.choice(["admonishment",
                                                                   "accountability:circulated_criticism",
                                                                   "written_inquiry"])  # fmt: skip
            name, _, form = measure.partition(":")
            fields = {"form": form} if form else {}
            what = zh(MEASURES, name) + (f"（{zh(ACCOUNTABILITY_FORMS, form)}）" if form else "")
            decision = self.add(f"{case}/measure", "accountability", "impose_measure", actor,
                                lane=case, case_id=Ref(case, "case_id"), measure=name,
                                reason=f"{source}{cadre.name}同志存在“{problem}”问题，依据"
                                       f"《中国共产党问责条例》，给予{what}。",
                                decided_on=later(5, 20), **fields)  # fmt: skip
            if (
                name in ("admonishment", "accountability")
                and kind == "measure"
                and (case not in self.facts["cases_by_policy"])
            ):
                self.sanctioned.append((cadre, decision))
        published = None
        sanction = handling or "accountability" in detail or "admonishment" in detail
        if kind == "appeal" or (sanction and rng.random() < 0.85):
            published = self.add(f"{case}/publish", "accountability", "publish_result",
                                 "云岭市纪委监委", lane=case, case_id=Ref(case, "case_id"),
                                 summary=f"{cadre.unit.name}{cadre.post}{cadre.name}存在“{problem}”"
                                         f"问题，被给予{what}。",
                                 published_on=later(1, 5))  # fmt: skip
        if kind == "appeal":
            self.add(f"{case}/appeal", "accountability", "file_appeal", actor, lane=case,
                     case_id=Ref(case, "case_id"), decision_id=Ref(decision, "decision_id"),
                     grounds="认为事实认定有误，有请假审批单及会议通知为证，申请复查。",
                     filed_on=later(3, 10))  # fmt: skip
            outcome = "revoked" if detail == "revoked_handling" else detail
            fields = {}
            lighter = "talk" if decision.endswith("measure") else "post_adjustment"
            if outcome == "changed":
                fields["changed_to"] = {"kind": lighter, "form": None}
            reasons = {"upheld": "经复查，原处理决定认定事实清楚、依据充分，予以维持。",
                       "changed": "经复查，情节较轻且已主动整改，变更为较轻处理。",
                       "revoked": "经复查，申诉理由成立，撤销原处理决定。"}  # fmt: skip
            self.add(f"{case}/appeal/decided", "accountability", "decide_appeal", actor,
                     lane=case, case_id=Ref(case, "case_id"),
                     decision_id=Ref(decision, "decision_id"), outcome=outcome,
                     reason=reasons[outcome], decided_on=later(7, 20), **fields)  # fmt: skip
            self.facts[f"appeal_{outcome}"].append(case)
            if published and outcome in ("revoked", "changed"):
                self.add(f"{case}/withdraw", "accountability", "withdraw_publication", actor,
                         lane=case, case_id=Ref(case, "case_id"),
                         reason="原处理决定经申诉复查"
                                + ("撤销" if outcome == "revoked" else "变更") + "，撤回公开。",
                         withdrawn_on=later(0, 2))  # fmt: skip
                self.facts["withdrawn"].append(case)
                if outcome == "changed":
                    lighter_zh = zh({**MEASURES, **HANDLINGS}, lighter)
                    self.add(f"{case}/publish/again", "accountability", "publish_result", actor,
                             lane=case, case_id=Ref(case, "case_id"),
                             summary=f"{cadre.unit.name}{cadre.post}{cadre.name}存在“{problem}”"
                                     f"问题，经申诉复查，处理变更为{lighter_zh}。",
                             published_on=later(0, 2))  # fmt: skip
        self.add(f"{case}/close", "accountability", "close_case", actor, lane=case,
                 case_id=Ref(case, "case_id"),
                 conclusion=f"{what}决定已执行，案件办结。" if kind != "appeal"
                 else "申诉已复查办结，案件办结。", closed_on=later(3, 12))  # fmt: skip

    def handling(self, case: str, cadre: Cadre, handling: str, decided: CaseDay, problem: str,
                 source: str) -> str:  # fmt: skip
        cadre.roles.add("handled")
        fields: dict[str, Any] = {}
        if handling == "transfer":
            target = self.rng.choice([b for b in self.bureaus if b is not cadre.unit]
                                     or self.bureaus)  # fmt: skip
            fields = {"unit_id": Ref(target.key, "unit_id"), "post": "四级调研员"}
        elif handling == "post_adjustment":
            fields = {"post": cadre.unit.deputy_title}
        elif handling == "non_leadership":
            fields = {"post": "二级调研员" if cadre.rank == "county_division" else "一级主任科员"}
        elif handling == "demotion":
            lower = "township_section" if cadre.rank == "county_division" else "staff"
            fields = {"rank": lower, "post": "一级主任科员" if lower == "township_section"
                      else "一级科员"}  # fmt: skip
        decision = self.add(f"{case}/handling", "accountability", "decide_handling",
                            "中共云岭市委组织部", lane=case, case_id=Ref(case, "case_id"),
                            handling=handling,
                            reason=f"{source}{cadre.name}同志存在“{problem}”问题，不适宜担任"
                                   "现职，依据《推进领导干部能上能下规定》予以"
                                   f"{zh(HANDLINGS, handling)}。",
                            decided_on=decided, **fields)  # fmt: skip
        self.facts[f"handling_{handling}"].append(cadre.key)
        self.facts["handled"].append((case, cadre.key, handling))
        if handling in ("dismissal", "ordered_resignation", "demotion") and cadre.task:
            successors = [c for c in self.cadres if c.rank == "county_division" and c is not cadre
                          and not c.roles and c.unit is cadre.unit] or [
                c for c in self.cadres if c.rank == "county_division" and not c.roles]  # fmt: skip
            if successors:
                successor = successors[0]
                successor.roles.add("successor")
                self.add(f"{cadre.task}/to/{successor.key}", "cadre_registry",
                         "assign_responsibility", "中共云岭市委组织部", after=(decision,),
                         task_id=Ref(cadre.task, "task_id"),
                         owner_id=Ref(successor.key, "cadre_id"),
                         effective_date=CaseDay(decided.case, decided.day + timedelta(days=1),
                                                decided.planned_open,
                                                decided.by_policy))  # fmt: skip
        return decision

    def exemption(self, case: str, cadre: Cadre, opened: date, effort: dict, outcome: str) -> None:
        rng = self.rng
        actor = "云岭市纪委监委"
        at = opened + timedelta(days=rng.randint(10, 25))
        self.add(f"{case}/exemption", "accountability", "grant_exemption", actor, lane=case,
                 case_id=Ref(case, "case_id"), reform_effort_id=Ref(effort["key"],
                                                                     "reform_effort_id"),
                 outcome=outcome,
                 reasons=f"失误发生在经备案的“{effort['title']}”中，决策程序合规、未谋取私利、"
                         "积极主动挽回损失，符合容错免责情形。",
                 granted_on=self.day(case, opened, at))  # fmt: skip
        self.facts[f"exemption_{outcome}"].append(case)
        self.facts["flows"].append((case, "exemption", outcome))
        if outcome == "mitigated":
            at += timedelta(days=rng.randint(3, 10))
            self.add(f"{case}/measure", "accountability", "impose_measure", actor, lane=case,
                     case_id=Ref(case, "case_id"), measure="talk",
                     reason="适用容错纠错机制，从轻处理，给予约谈。",
                     decided_on=self.day(case, opened, at))  # fmt: skip
        at += timedelta(days=rng.randint(3, 10))
        self.add(f"{case}/close", "accountability", "close_case", actor, lane=case,
                 case_id=Ref(case, "case_id"),
                 conclusion="予以容错免责，案件办结。" if outcome == "exempted"
                 else "从轻处理，案件办结。", closed_on=self.day(case, opened, at))  # fmt: skip

    # --- the year: ratings and assessments -----------------------------------------------

    def rating(self, cadre: Cadre, channel: str, period: str, value: Any, rater: str,
               bulk: str | None = None) -> str:  # fmt: skip
        """A rating step; with ``bulk``, sent in one ``submit_ratings`` with the other
        ratings of that key (those of one agency), which orders them itself."""
        agency = {"democratic_appraisal": "中共云岭市委组织部 民主评议",
                  "phone_spot_check": "云岭市12345政务服务便民热线",
                  "questionnaire": "云岭市社情民意调查中心",
                  "online_satisfaction": "云岭市网上政务服务满意度测评平台",
                  "service_window": "云岭市政务服务中心 窗口评价器"}[channel]  # fmt: skip
        n = self.ratings_of[cadre.key] = self.ratings_of.get(cadre.key, 0) + 1
        # ratings of one cadre in one month change one record: one at a time, or in one bulk
        lane = None if bulk else f"ratings/{cadre.key}/{period}"
        key = self.add(f"rating/{cadre.key}/{n:03d}", "evaluations", "submit_rating", agency,
                       lane=lane, cadre_id=Ref(cadre.key, "cadre_id"),
                       channel=channel, period=period, value=value, rater_ref=rater)  # fmt: skip
        if bulk:
            self.index[key].bulk = f"bulk/{agency}/{bulk}"
        return key

    def everyday_bulk(self, channel: str) -> str:
        """The bulk of the channel's agency that everyday ratings go into: one of up to
        ``EVERYDAY_BULK`` ratings, then the next."""
        n = self.bulk_sizes[channel] = self.bulk_sizes.get(channel, 0) + 1
        return f"everyday/{(n - 1) // EVERYDAY_BULK:03d}"

    def rater(self, channel: str) -> str:
        """The channel's own reference for a rater: a different one each time."""
        n = next(self.counter)
        return {
            "democratic_appraisal": f"民主测评票 {YEAR}-{n:06d}",
            "phone_spot_check": f"1{'3589'[n % 4]}{n % 10}{n * 7919 % 10**8:08d}",
            "questionnaire": f"WJ{YEAR}{n:07d}",
            "online_satisfaction": f"WEB-{n * 2654435761 % 2**32:08x}",
            "service_window": f"CK-{'ABCDEFGH'[n % 8]}{n:06d}",
        }[channel]  # fmt: skip

    def public_value(self, channel: str, level: float) -> Any:
        """A public rating around ``level`` (0 poor … 1 excellent)."""
        x = min(1.0, max(0.0, self.rng.gauss(level, 0.12)))
        if channel == "phone_spot_check":
            return "satisfied" if x > 0.75 else ("basically_satisfied" if x > 0.35 else
                                                 "dissatisfied")  # fmt: skip
        if channel == "service_window":
            return "very_satisfied" if x > 0.85 else ("satisfied" if x > 0.35 else "dissatisfied")
        if channel == "online_satisfaction":
            return 1 + round(x * 4)
        return round(x * 100)

    def everyday_ratings(self) -> None:
        """A few ratings of every cadre through the channels, over the year."""
        rng = self.rng
        public = ["phone_spot_check", "questionnaire", "online_satisfaction", "service_window"]
        for cadre in self.cadres:
            if "assessed" in cadre.roles:
                continue
            level = rng.uniform(0.55, 0.95)
            repeat = None
            for _ in range(rng.randint(1, 3) if cadre.rank != "city_level" else 1):
                channel = rng.choice(public if cadre.rank != "city_level"
                                     else ["online_satisfaction", "questionnaire"])  # fmt: skip
                period = f"{YEAR}-{rng.randint(1, 11):02d}"
                rater = self.rater(channel)
                self.rating(cadre, channel, period, self.public_value(channel, level), rater,
                            self.everyday_bulk(channel))  # fmt: skip
                repeat = (channel, period, rater)
            if repeat and rng.random() < 0.05:  # the same rater again: recorded, counted once
                channel, period, rater = repeat
                self.rating(cadre, channel, period, self.public_value(channel, level), rater,
                            self.everyday_bulk(channel))  # fmt: skip
                self.facts["repeated_ratings"].append(cadre.key)

    def grade_ratings(self, target: str) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
        """Ballots and public ratings for a year graded ``target`` (rules CURRENT_RULES)."""
        rng = self.rng
        public = ["phone_spot_check", "questionnaire", "online_satisfaction", "service_window"]
        official_mix = {
            "excellent": (["excellent"] * 8 + ["competent"] * 2, 0.93),
            "competent": (["excellent"] * 2 + ["competent"] * 7 + ["basically_competent"], 0.75),
            "basically_competent": (["competent"] * 4 + ["basically_competent"] * 6, 0.55),
            "incompetent": (["incompetent"] * 5 + ["basically_competent"] * 4 + ["competent"],
                            0.3),
        }[target]  # fmt: skip
        for _ in range(500):
            ballots = [("democratic_appraisal", rng.choice(official_mix[0]))
                       for _ in range(rng.randint(5, 6))]  # fmt: skip
            ratings = []
            for _ in range(rng.randint(20, 22)):
                channel = rng.choice(public)
                ratings.append((channel, self.public_value(channel, official_mix[1])))
            if grade_of(ballots + ratings) == target:
                return ballots, ratings
        msg = f"no ratings found for the grade {target}"  # pragma: no cover
        raise AssertionError(msg)

    def assessments(self) -> None:
        rng = self.rng
        pool = [c for c in self.cadres if c.rank in ("county_division", "township_section")
                and not c.roles]  # fmt: skip
        rng.shuffle(pool)
        count = min(len(pool), self.scaled(64, 6))
        quotas = {"incompetent": self.scaled(6, 1), "basically_competent": self.scaled(8, 1),
                  "excellent": self.scaled(10, 1)}  # fmt: skip
        quotas["competent"] = max(1, count - sum(quotas.values()))
        graded = [g for g, n in quotas.items() for _ in range(n)][:count]
        # some section-level cadres among the excellent: candidates for promotion
        if "excellent" in graded:
            rising = [c for c in pool if c.rank == "township_section"][: self.scaled(4, 1)]
            pool = [c for c in pool if c not in rising]
            first = graded.index("excellent")
            pool[first:first] = rising
        twice = 0  # incompetent the year before too: dismissal from the civil service (辞退)
        for cadre, grade in zip(pool, graded, strict=False):
            if grade == "incompetent" and twice < self.scaled(2, 1):
                twice += 1
                self.assess(cadre, grade, YEAR - 1)
                self.assess(cadre, grade, YEAR, running=2)
                continue
            self.assess(cadre, grade, YEAR)
        for cadre in pool[count : count + self.scaled(3, 1)]:
            for year in (YEAR - 2, YEAR - 1, YEAR):
                self.assess(cadre, "excellent", year)
            self.facts["three_excellent_years"].append(cadre.key)
        # cadres given an admonishment or accountability in YEAR and rated well: the grade
        # is capped at competent (rules 2026.2 on) once evaluations has the measure, which it
        # follows from accountability's events (the assessment comes after the measure)
        capped = [s for s in self.sanctioned if not s[0].roles & {"assessed", "handled"}]
        for cadre, measure in capped[: self.scaled(3, 1)]:
            self.assess(cadre, "excellent", YEAR, after=(measure,), expected="competent")
            self.facts["capped"].append(cadre.key)

    def assess(self, cadre: Cadre, grade: str, year: int, after: tuple = (),
               expected: str | None = None, running: int = 1) -> None:  # fmt: skip
        """Ratings that make ``grade``, then the year's assessment (``expected``: the grade
        the service gives, when a measure in force caps it; ``running``: the years running
        with this grade)."""
        cadre.roles.add("assessed")
        ballots, ratings = self.grade_ratings(grade)
        rng = self.rng
        bulk = f"{cadre.key}/{year}"  # each agency's ratings of the cadre's year at once
        rated = [self.rating(cadre, channel, f"{year}-12", value, self.rater(channel), bulk)
                 for channel, value in ballots]  # fmt: skip
        rated += [self.rating(cadre, channel, f"{year}-{rng.randint(1, 11):02d}", value,
                              self.rater(channel), bulk)
                  for channel, value in ratings]  # fmt: skip
        key = self.add(f"assessment/{cadre.key}/{year}", "evaluations",
                       "conclude_annual_assessment", "中共云岭市委组织部",
                       after=(*after, *rated, *self.assessed_before.get(cadre.key, ())),
                       cadre_id=Ref(cadre.key, "cadre_id"), year=year)  # fmt: skip
        self.assessed_before[cadre.key] = (key,)  # an earlier year's grade comes first
        self.facts["grades"].append((cadre.key, year, expected or grade))
        if grade == "incompetent":
            self.incompetent(cadre, key, year, running)

    def incompetent(self, cadre: Cadre, assessment: str, year: int, running: int) -> None:
        """The accountability service opens a case proposing demotion, or in the second
        year running dismissal from the civil service: find it, decide."""
        case = self.find_case(f"case/{assessment}", cadre, "assessment", year=year)
        self.facts["cases_by_policy"].append(case)
        opened = on(12, 31)
        if year != YEAR:  # the year before: overtaken by the second year's case
            self.facts["flows"].append((case, "open", ""))
            return
        if running == 2:
            cadre.roles.add("handled")
            decided = self.day(case, opened, opened + timedelta(days=8))
            self.add(f"{case}/handling", "accountability", "decide_handling",
                     "中共云岭市委组织部", lane=case, case_id=Ref(case, "case_id"),
                     handling="dismissal_from_service",
                     reason=f"{cadre.name}同志{YEAR - 1}、{YEAR}年度连续两年考核被确定为不称职，"
                            "依据《公务员辞退规定》予以辞退。",
                     decided_on=decided)  # fmt: skip
            self.facts["handling_dismissal_from_service"].append(cadre.key)
            self.facts["flows"].append((case, "handling", "dismissal_from_service"))
            self.add(f"{case}/close", "accountability", "close_case", "中共云岭市委组织部",
                     lane=case, case_id=Ref(case, "case_id"),
                     conclusion="辞退决定已执行，案件办结。",
                     closed_on=self.day(case, opened, opened + timedelta(days=20)))  # fmt: skip
            return
        n = len(self.facts["demotion_cases"])
        self.facts["demotion_cases"].append(case)
        if n % 3 == 2:
            self.facts["flows"].append((case, "open", ""))
            return  # still being handled
        cadre.roles.add("handled")
        lower = "township_section" if cadre.rank == "county_division" else "staff"
        decided = self.day(case, opened, opened + timedelta(days=8))
        decision = self.add(f"{case}/handling", "accountability", "decide_handling",
                            "中共云岭市委组织部", lane=case, case_id=Ref(case, "case_id"),
                            handling="demotion", rank=lower,
                            post="一级主任科员" if lower == "township_section" else "一级科员",
                            reason=f"{cadre.name}同志{YEAR}年度考核被确定为不称职，依据《公务员"
                                   "考核规定》降低一个职务层次任职。",
                            decided_on=decided)  # fmt: skip
        self.facts["handling_demotion"].append(cadre.key)
        self.facts["flows"].append((case, "handling", "demotion"))
        if n % 3 == 1:
            self.add(f"{case}/appeal", "accountability", "file_appeal", "云岭市纪委监委",
                     lane=case, case_id=Ref(case, "case_id"),
                     decision_id=Ref(decision, "decision_id"),
                     grounds="对年度考核结果有异议，申请复核。",
                     filed_on=self.day(case, opened, opened + timedelta(days=15)))  # fmt: skip
            self.add(f"{case}/appeal/decided", "accountability", "decide_appeal",
                     "中共云岭市委组织部", lane=case, case_id=Ref(case, "case_id"),
                     decision_id=Ref(decision, "decision_id"), outcome="upheld",
                     reason="经复核，考核结果和降职决定依据充分，予以维持。",
                     decided_on=self.day(case, opened, opened + timedelta(days=30)))  # fmt: skip
            self.facts["appeal_upheld"].append(case)
        self.add(f"{case}/close", "accountability", "close_case", "中共云岭市委组织部", lane=case,
                 case_id=Ref(case, "case_id"), conclusion="降职决定已执行，案件办结。",
                 closed_on=self.day(case, opened, opened + timedelta(days=35)))  # fmt: skip

    # --- the year: commendations and promotions ------------------------------------------

    def commendations(self) -> None:
        """Leaders commended for their key work at mid-year; cadres graded excellent at
        year end, and some section-level ones recommended for promotion and promoted."""
        rng = self.rng
        cadres = {c.key: c for c in self.cadres}
        excellent = [cadres[key] for key, year, grade in self.facts["grades"]
                     if grade == "excellent" and year == YEAR]  # fmt: skip
        leaders = [c for c in self.cadres if c.rank == "city_level" and c.key_work]
        rising = [c for c in excellent if c.rank == "township_section"][: self.scaled(4, 1)]
        for n in range(self.scaled(25, 2)):
            if (n % 3 == 0 and leaders) or not excellent:
                cadre = leaders[(n // 3) % len(leaders)]
                self.add(f"commend/{n:03d}", "accountability", "commend",
                         "中共云岭市委、云岭市人民政府", cadre_id=Ref(cadre.key, "cadre_id"),
                         kind="commendation",
                         reason=f"{cadre.name}同志牵头的重点工作推进有力、成效突出，"
                                "予以通报表彰。", commended_on=on(7, 1))  # fmt: skip
                continue
            cadre = rising.pop() if rising and n % 2 else excellent[n % len(excellent)]
            promote = cadre.rank == "township_section" and "promoted" not in cadre.roles
            kind = "promotion_recommendation" if promote else "commendation"
            reason = (f"{cadre.name}同志{YEAR}年度考核优秀，敬业有功，"
                      + ("建议提拔使用。" if promote else "予以嘉奖。"))  # fmt: skip
            commend = self.add(f"commend/{n:03d}", "accountability", "commend",
                               "中共云岭市委组织部", cadre_id=Ref(cadre.key, "cadre_id"),
                               kind=kind, reason=reason,
                               commended_on=on(12, 28) - timedelta(days=rng.randint(0, 5)),
                               after=(f"assessment/{cadre.key}/{YEAR}",))  # fmt: skip
            if promote:
                cadre.roles.add("promoted")
                unit = cadre.unit if cadre.unit.group == "bureau" else rng.choice(self.bureaus)
                appointed = self.add(f"promote/{cadre.key}", "cadre_registry", "appoint",
                                     "中共云岭市委组织部", after=(commend,),
                                     cadre_id=Ref(cadre.key, "cadre_id"),
                                     unit_id=Ref(unit.key, "unit_id"), post=unit.deputy_title,
                                     rank="county_division", post_kind="leadership",
                                     effective_date=on(12, 31))  # fmt: skip
                self.facts["promoted"].append(cadre.key)
                self.liaison_task(cadre, on(12, 31), after=(appointed,))

    def plan(self) -> Plan:
        self.build_city()
        self.build_cadres()
        self.assign_tasks()
        self.personnel_moves()
        self.reform_efforts()
        for effort in self.efforts:
            for cadre in effort["participants"]:
                cadre.roles.add("reform")
        self.inspections()
        self.exposures()
        self.letters()
        self.cases()
        self.assessments()
        self.everyday_ratings()
        self.commendations()
        facts = {key: list(self.facts.get(key, [])) for key in FACT_LISTS}
        facts.update({k: v for k, v in self.facts.items() if k not in facts})
        facts["units"] = len(self.units)
        facts["cadres_by_rank"] = dict(Counter(c.rank for c in self.cadres))
        facts["situations"] = sorted({f["situation"] for f in self.findings})
        return Plan(self.seed, self.scale, self.steps, facts)


#: The lists a plan's facts always have (empty when the year has none).
FACT_LISTS = (
    "letters", "letters_left", "letters_open", "letters_accepted", "letters_reported",
    "letters_rejected_then_accepted", "cases_by_policy", "cases_opened_here", "flows",
    "handled", "grades", "capped", "three_excellent_years", "demotion_cases", "promoted",
    "withdrawn", "repeated_ratings", "appeal_upheld", "appeal_changed", "appeal_revoked",
    "exemption_exempted", "exemption_mitigated",
    *(f"handling_{h}" for h in HANDLINGS),
)  # fmt: skip


def grade_of(ratings: list[tuple[str, Any]], measures: tuple[str, ...] = ()) -> str:
    """The grade a year of counted ratings gets by the current assessment rules, as the
    evaluations service computes it (docs/rpc.md): the demo plans its grades with it."""
    rules = ASSESSMENT_RULES[CURRENT_RULES]
    official = [score(c, v) for c, v in ratings if c == "democratic_appraisal"]
    public = [score(c, v) for c, v in ratings if c != "democratic_appraisal"]
    means = {"official": sum(official) / len(official), "public": sum(public) / len(public)}
    final = sum(weight * means[source] for source, weight in rules["weights"].items())
    grade = next((g for g, lowest in rules["thresholds"].items() if final >= lowest),
                 "incompetent")  # fmt: skip
    for veto in rules["vetoes"]:
        votes = [v for c, v in ratings if c == veto["channel"]]
        share = sum(v == veto["value"] for v in votes) / len(votes)
        if share >= veto["share_at_least"] and GRADE_ORDER.index(
            veto["grade_at_most"]
        ) > GRADE_ORDER.index(grade):
            grade = veto["grade_at_most"]
    for veto in rules.get("measure_vetoes", []):
        if set(measures) & set(veto["measures"]) and GRADE_ORDER.index(
            veto["grade_at_most"]
        ) > GRADE_ORDER.index(grade):
            grade = veto["grade_at_most"]
    return grade


def plan_year(seed: int = YEAR, scale: float = 1.0) -> Plan:
    """The year as steps: pure, the same for the same ``seed`` and ``scale``."""
    return Script(seed, scale).plan()


# --- what the year holds, in words -----------------------------------------------------


def describe(plan: Plan) -> list[str]:
    counts = plan.counts()
    facts = plan.facts
    ranks = facts["cadres_by_rank"]

    def of(method: str, name: str, value: str) -> int:
        return sum(1 for p in plan.commands(method) if p.get(name) == value)

    measures = Counter(p["measure"] + (f":{p['form']}" if p.get("form") else "")
                       for p in plan.commands("impose_measure"))  # fmt: skip
    handlings = Counter(p["handling"] for p in plan.commands("decide_handling"))
    appeals = Counter(p["outcome"] for p in plan.commands("decide_appeal"))
    grades = Counter(g for _, y, g in facts["grades"] if y == YEAR)
    channels = Counter(p["channel"] for p in plan.commands("submit_rating"))
    exposures = Counter(p["exposure"] for p in plan.commands("expose_finding"))
    letters = len(facts["letters"])
    kinds = Counter(p["kind"] for p in plan.commands("open_inspection"))
    accepted = sum(1 for _, ok in facts["letters"] if ok)
    overdue_by_year_end = plan.letters_overdue_on(date(YEAR, 12, 31))
    return [
        f"units {counts['cadre_registry.register_unit']} · city-level leaders "
        f"{ranks.get('city_level', 0)} · county-level cadres {ranks.get('county_division', 0)}"
        f" · section-level {ranks.get('township_section', 0)} · staff {ranks.get('staff', 0)}",
        f"key work shares {of('assign_responsibility', 'kind', 'key_work_share')} · liaison "
        f"tasks {of('assign_responsibility', 'kind', 'liaison_task')} · posting changes "
        f"{counts['cadre_registry.transfer'] + counts['cadre_registry.appoint']}",
        "inspections "
        + str(sum(kinds.values()))
        + " ("
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        + ") · findings "
        f"{counts['inspections.record_finding']} in {len(facts['situations'])} situations · "
        "exposures " + ", ".join(f"{k} {n}" for k, n in sorted(exposures.items())),
        f"rectification letters {letters}: accepted {accepted} "
        f"({len(facts.get('letters_rejected_then_accepted', []))} after a rejected report), "
        f"reported {len(facts.get('letters_reported', []))}, awaiting a report "
        f"{len(facts.get('letters_left', [])) + len(facts.get('letters_open', []))}; "
        f"{overdue_by_year_end} past their deadline by year end",
        f"ratings {counts['evaluations.submit_rating']} ("
        + ", ".join(f"{k} {n}" for k, n in sorted(channels.items()))
        + ") · assessments "
        f"{counts['evaluations.conclude_annual_assessment']} ({YEAR}: "
        + ", ".join(f"{g} {grades[g]}" for g in GRADE_ORDER)
        + f"; {len(facts['capped'])} "
        "capped by a measure; " + f"{len(facts['three_excellent_years'])} excellent three "
        "years running)",
        f"cases {counts['accountability.open_case'] + counts['accountability.find_case']} "
        f"(opened by the service from findings and grades "
        f"{counts['accountability.find_case']}, opened here {counts['accountability.open_case']})"
        f" · statements {counts['accountability.record_statement']} · closed "
        f"{counts['accountability.close_case']}",
        "measures " + ", ".join(f"{k} {n}" for k, n in sorted(measures.items())),
        "handlings " + ", ".join(f"{k} {n}" for k, n in sorted(handlings.items())),
        f"reform efforts {counts['accountability.register_reform_effort']} · exemptions "
        f"{counts['accountability.grant_exemption']} · appeals "
        + ", ".join(f"{k} {n}" for k, n in sorted(appeals.items()))
        + f" · commendations {counts['accountability.commend']} · publications "
        f"{counts['accountability.publish_result']} (withdrawn "
        f"{counts['accountability.withdraw_publication']})",
    ]


# --- the loader: the plan over nameko RPC ----------------------------------------------


class DemoError(RuntimeError):
    """The demo could not load the year; the message says what to do."""


_NAMEKO: list = []


def _rpc() -> tuple[type, type, type, type]:
    """nameko's standalone proxy that sends the connection's user as the request's
    ``user_id`` (the services know the caller by it: docs/rpc.md), and nameko's errors;
    imported on first use (nameko imports eventlet, which announces its deprecation)."""
    if not _NAMEKO:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from nameko.exceptions import RemoteError, RpcTimeout, UnknownService

            from events.identity.agency import IdentifiedClusterRpcProxy
        _NAMEKO[:] = [IdentifiedClusterRpcProxy, RemoteError, RpcTimeout, UnknownService]
    return tuple(_NAMEKO)


def safe_uri(uri: str) -> str:
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(uri)


def resolve(value: Any, results: dict[str, dict], opened: dict[str, date]) -> Any:
    if isinstance(value, Ref):
        return results[value.key][value.name]
    if isinstance(value, CaseDay):
        late = max(timedelta(0), opened[value.case] - value.planned_open)
        day = value.day + late
        if value.by_policy:  # opened on the services' today: nothing after it
            day = min(day, opened[value.case])
        return day.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: resolve(v, results, opened) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, results, opened) for v in value]
    return value


class Loader:
    """Sends a plan's steps with ``workers`` threads (green threads under eventlet), each
    with its own RPC proxy; a step runs once the steps it needs have returned."""

    def __init__(self, amqp_uri: str = DEFAULT_AMQP_URI, workers: int = 8,
                 timeout: float = 30.0, patience: float = 180.0) -> None:  # fmt: skip
        self.amqp_uri, self.workers, self.timeout, self.patience = (
            amqp_uri, workers, timeout, patience)  # fmt: skip

    def check(self, timeout: float = 10.0) -> None:
        """Each service answers a query within ``timeout``, or DemoError says which not."""
        cluster_proxy, remote_error, rpc_timeout, unknown_service = _rpc()
        nobody = str(uuid.UUID(int=0))
        queries = {
            "cadre_registry": ("get_unit", {"unit_id": nobody}),
            "evaluations": ("get_assessment", {"cadre_id": nobody, "year": YEAR}),
            "inspections": ("get_finding", {"finding_id": nobody}),
            "accountability": ("get_case", {"case_id": nobody}),
        }
        where = safe_uri(self.amqp_uri)
        hint = "bring the stack up with scripts/up (.venv/bin/youwei status tells what runs)"
        try:
            proxy = cluster_proxy({"AMQP_URI": self.amqp_uri}, timeout=timeout)
            cluster = proxy.start()
        except Exception as error:
            msg = f"cannot reach RabbitMQ at {where}: {error}; {hint}"
            raise DemoError(msg) from None
        try:
            for service, (method, query) in queries.items():
                try:
                    getattr(getattr(cluster, service), method)(query)
                except remote_error as error:
                    if error.exc_type == "Forbidden":
                        msg = (f"{service}.{method} refused the broker user of {where}: "
                               f"{error.value}; the demo calls every service as one user, "
                               "which needs the local_development role (guest on a local "
                               "stack: schemas/authorization.py)")  # fmt: skip
                        raise DemoError(msg) from None
                    if error.exc_type != "NotFound":
                        raise
                except unknown_service:
                    msg = f"the {service} service is not running on {where}: {hint}"
                    raise DemoError(msg) from None
                except rpc_timeout:
                    msg = f"the {service} service did not answer within {timeout:g} s: {hint}"
                    raise DemoError(msg) from None
        finally:
            proxy.stop()

    def load(self, plan: Plan, progress: Callable[[int], None] | None = None) -> dict[str, dict]:
        """Run every step; return each step's result by key (the same on a re-run). The
        steps of one ``bulk`` key go as one ``submit_ratings`` once all of them may run;
        each gets its rating's outcome."""
        steps = {s.key: s for s in plan.steps}
        order = {s.key: n for n, s in enumerate(plan.steps)}
        waiting = {s.key: len(s.after) for s in plan.steps}
        dependents: dict[str, list[str]] = defaultdict(list)
        for step in plan.steps:
            for need in step.after:
                dependents[need].append(step.key)
        bulks: dict[str, list[str]] = defaultdict(list)
        for step in plan.steps:
            if step.bulk:
                bulks[step.bulk].append(step.key)
        held: Counter[str] = Counter()
        ready: list[tuple[int, str]] = []

        def may_run(key: str) -> None:
            bulk = steps[key].bulk
            if bulk is None:
                heapq.heappush(ready, (order[key], key))
                return
            held[bulk] += 1
            if held[bulk] == len(bulks[bulk]):
                heapq.heappush(ready, (order[bulks[bulk][0]], bulk))

        for key, n in waiting.items():
            if n == 0:
                may_run(key)
        later: list[tuple[float, int, str]] = []  # finds to ask again: (when, order, key)
        first_try: dict[str, float] = {}
        tries: Counter[str] = Counter()
        results: dict[str, dict] = {}
        opened: dict[str, date] = {}
        work: queue.Queue = queue.Queue()
        done: queue.Queue = queue.Queue()
        stop = threading.Event()
        threads = [threading.Thread(target=self._work, args=(work, done, stop), daemon=True)
                   for _ in range(self.workers)]  # fmt: skip
        for thread in threads:
            thread.start()
        in_flight = 0
        try:
            while len(results) < len(steps):
                now = time.monotonic()
                while later and later[0][0] <= now:
                    _, n, key = heapq.heappop(later)
                    heapq.heappush(ready, (n, key))
                while ready and in_flight < 2 * self.workers:
                    _, key = heapq.heappop(ready)
                    if key in bulks:
                        work.put(self._bulk(plan, key, [steps[k] for k in bulks[key]], results))
                        in_flight += 1
                        continue
                    step = steps[key]
                    work.put((step, resolve(step.payload, results, opened)))
                    first_try.setdefault(key, now)
                    in_flight += 1
                if in_flight == 0 and not later:
                    msg = "steps wait on each other: " + ", ".join(
                        k for k, n in waiting.items() if n and k not in results
                    )
                    raise DemoError(msg)
                wait = 1.0 if not later else max(0.01, min(1.0, later[0][0] - now))
                try:
                    key, status, value = done.get(timeout=wait)
                except queue.Empty:
                    continue
                if status == "failed":
                    raise DemoError(value)
                in_flight -= 1
                if key in bulks:
                    for member, outcome in zip(bulks[key], value["outcomes"], strict=True):
                        if outcome["outcome"] == "refused":
                            msg = f"step {member}: rating refused: {outcome['reason']}"
                            raise DemoError(msg)
                        results[member] = outcome
                        for dependent in dependents[member]:
                            waiting[dependent] -= 1
                            if waiting[dependent] == 0:
                                may_run(dependent)
                    if progress is not None:
                        progress(len(bulks[key]))
                    continue
                step = steps[key]
                if status == "not yet":
                    tries[key] += 1
                    if time.monotonic() - first_try[key] > self.patience:
                        msg = (f"the accountability service did not open the case of step {key}"
                               f" ({step.payload}) within {self.patience:g} s: are its event "
                               "handlers running? (.venv/bin/youwei dlq list)")  # fmt: skip
                        raise DemoError(msg)
                    delay = min(5.0, 0.25 * 2 ** min(tries[key], 5))
                    heapq.heappush(later, (time.monotonic() + delay, order[key], key))
                    continue
                results[key] = value
                if step.method == "open_case" and not step.find:
                    opened[key] = date.fromisoformat(
                        resolve(step.payload["opened_on"], results, opened)
                    )
                elif step.find:
                    opened[key] = date.fromisoformat(value["opened_on"])
                if progress is not None:
                    progress(1)
                for dependent in dependents[key]:
                    waiting[dependent] -= 1
                    if waiting[dependent] == 0:
                        may_run(dependent)
        finally:
            stop.set()
            for _ in threads:
                work.put(None)
            for thread in threads:  # daemons: one stuck on its broker connection is left
                thread.join(timeout=2)
        return results

    @staticmethod
    def _bulk(
        plan: Plan, bulk: str, members: list[Step], results: dict[str, dict]
    ) -> tuple[Step, dict[str, Any]]:
        """The ``submit_ratings`` of ``members``, ratings of one agency, in plan order."""
        first = members[0].payload
        command_id = str(uuid.uuid5(NAMESPACE, f"{plan.seed}:{plan.scale:g}:{bulk}"))
        ratings = [
            {k: v for k, v in resolve(m.payload, results, {}).items()
             if k not in ("command_id", "actor")}
            for m in members
        ]  # fmt: skip
        step = Step(bulk, "evaluations", "submit_ratings", {})
        return step, {"command_id": command_id, "actor": first["actor"], "ratings": ratings}

    def _work(self, work: queue.Queue, done: queue.Queue, stop: threading.Event) -> None:
        cluster_proxy, *_ = _rpc()
        proxy = None
        try:
            proxy = cluster_proxy({"AMQP_URI": self.amqp_uri}, timeout=self.timeout)
            cluster = proxy.start()
        except Exception as error:
            done.put((None, "failed", f"cannot reach RabbitMQ at {safe_uri(self.amqp_uri)}: "
                                      f"{error}"))  # fmt: skip
            return
        try:
            while (item := work.get()) is not None:
                if stop.is_set():
                    break
                step, payload = item
                try:
                    status, value = self._call(cluster, step, payload)
                except DemoError as error:
                    status, value = "failed", str(error)
                except Exception as error:
                    what = f"{step.service}.{step.method}: {type(error).__name__}: {error}"
                    status, value = "failed", f"step {step.key} failed: {what}"
                done.put((step.key, status, value))
        finally:
            proxy.stop()

    def _call(self, cluster: Any, step: Step, payload: dict[str, Any]) -> tuple[str, Any]:
        _, remote_error, rpc_timeout, _ = _rpc()
        if step.find:
            return self._find(cluster, payload)
        method = getattr(getattr(cluster, step.service), step.method)
        for attempt in range(5):
            try:
                return "ok", method(payload)
            except rpc_timeout:
                if attempt == 4:
                    msg = (f"step {step.key}: {step.service}.{step.method} did not answer within "
                           f"{self.timeout:g} s, five times")  # fmt: skip
                    raise DemoError(msg) from None
            except remote_error as error:
                if error.exc_type == "Conflict" and "already used" in (error.value or ""):
                    msg = (
                        f"step {step.key}: {error.value}. This seed and scale were loaded "
                        "before by another version of the demo: choose another --seed"
                    )
                    raise DemoError(msg) from None
                if error.exc_type != "Conflict" or attempt == 4:
                    msg = (f"step {step.key}: {step.service}.{step.method} refused: "
                           f"{error.exc_type}: {error.value}")  # fmt: skip
                    raise DemoError(msg) from None
                time.sleep(0.1 * (attempt + 1))  # a concurrent change won: the same again
        raise AssertionError  # pragma: no cover

    def _find(self, cluster: Any, wanted: dict[str, Any]) -> tuple[str, Any]:
        named = {k: v for k, v in wanted.items() if k not in ("cadre_id", "basis")}
        query = {"cadre_id": wanted["cadre_id"], "basis": wanted["basis"], "page_size": 500}
        for case in cluster.accountability.list_cases(query)["cases"]:
            for item in case["basis"]:
                if item["kind"]["code"] == wanted["basis"] and all(
                    item.get(k) == v for k, v in named.items()
                ):
                    return "ok", {"case_id": case["case_id"], "opened_on": case["opened_on"]}
        return "not yet", None


# --- the command -----------------------------------------------------------------------


def main(seed: int, scale: float, amqp_uri: str, workers: int = 8) -> None:
    """``youwei demo``: plan the year, check the services answer, load with a progress bar,
    and say what was loaded and how long it took."""
    import click

    plan = plan_year(seed, scale)
    loader = Loader(amqp_uri, workers=workers)
    try:
        loader.check()
    except DemoError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"youwei demo: {CITY}, {YEAR} (seed {seed}, scale {scale:g}): "
               f"{len(plan.steps)} RPC steps to {safe_uri(amqp_uri)}", err=True)  # fmt: skip
    started = time.monotonic()
    try:
        with click.progressbar(length=len(plan.steps), label="loading the year",
                               file=sys.stderr, show_pos=True) as bar:  # fmt: skip
            loader.load(plan, progress=bar.update)
    except DemoError as error:
        raise click.ClickException(str(error)) from error
    elapsed = time.monotonic() - started
    click.echo(f"loaded in {elapsed:.0f} s (a re-run with the same seed and scale adds nothing):")
    for line in describe(plan):
        click.echo(f"  {line}")
    click.echo(
        "  letters past their deadline become overdue at the inspections service's next "
        "deadline check (INSPECTIONS_DEADLINE_CHECK_SECONDS, hourly by default); those that "
        "name a task then open a case against its owner"
    )
