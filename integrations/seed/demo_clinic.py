"""The demo clinic's fixed cast: locations, providers, weekly hours, queues, staff, key patients.

Everything here is synthetic. The synthetic patient pool mixes everyday names with names that
speech recognisers and spellers find hard, because verification is tested against both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time


@dataclass(frozen=True)
class DemoMed:
    name: str
    strength: str
    refills_left: int
    controlled: bool = False


@dataclass(frozen=True)
class DemoPatient:
    mrn: str
    first: str
    last: str
    dob: date
    phones: tuple[str, ...]
    meds: tuple[DemoMed, ...] = ()


LOCATIONS = (
    ("Main Street Clinic", "120 Main Street", "+15550109000"),
    ("Riverside Clinic", "8 River Road", "+15550109100"),
)
# (full name, spoken display name, specialty)
PROVIDERS = (
    ("Linh Nguyen", "Dr. Nguyen", "family medicine"),
    ("Priya Patel", "Dr. Patel", "internal medicine"),
    ("Samuel Okafor", "Dr. Okafor", "family medicine"),
    ("Hannah Schmidt", "Dr. Schmidt", "pediatrics"),
)
# provider display name -> {weekday: location name}; Monday = 0.
WEEKLY_HOURS = {
    "Dr. Nguyen": {
        0: "Main Street Clinic",
        1: "Main Street Clinic",
        2: "Main Street Clinic",
        3: "Main Street Clinic",
        4: "Main Street Clinic",
    },
    "Dr. Patel": {
        0: "Main Street Clinic",
        1: "Riverside Clinic",
        2: "Main Street Clinic",
        3: "Riverside Clinic",
        4: "Main Street Clinic",
    },
    "Dr. Okafor": {
        0: "Riverside Clinic",
        1: "Riverside Clinic",
        2: "Riverside Clinic",
        3: "Riverside Clinic",
    },
    "Dr. Schmidt": {
        1: "Main Street Clinic",
        2: "Main Street Clinic",
        3: "Main Street Clinic",
        4: "Main Street Clinic",
    },
}
BLOCKS = ((time(8, 30), time(12, 0)), (time(13, 0), time(16, 30)))
SLOT_MINUTES = 30
SLOT_DAYS = 28

VISIT_TYPES = (
    ("follow_up", "follow-up visit", 30),
    ("new_patient", "new patient visit", 30),
    ("sick_visit", "sick visit", 30),
    ("annual_physical", "annual physical", 30),
    ("medication_review", "medication review", 30),
)
QUEUES = (
    ("front_desk", ["front_desk"]),
    ("nurse", ["nurse"]),
    ("pharmacy", ["pharmacy"]),
    ("billing", ["billing"]),
    ("scheduling", ["scheduling"]),
)
# (username, name, role, skills); the demo password is "<username>-demo".
STAFF = (
    ("front1", "Alex Rivera", "agent", ["front_desk", "scheduling"]),
    ("sched1", "Jordan Lee", "agent", ["scheduling", "front_desk"]),
    ("billing1", "Casey Morgan", "agent", ["billing", "front_desk"]),
    ("pharm1", "Robin Adebayo", "agent", ["pharmacy"]),
    ("nurse1", "Nora Bell", "nurse", ["nurse", "pharmacy"]),
    ("nurse2", "Tomasz Kowalczyk", "nurse", ["nurse"]),
    (
        "super1",
        "Dana Whitfield",
        "supervisor",
        ["front_desk", "scheduling", "billing", "pharmacy", "nurse"],
    ),
    # A second supervisor: approves the first's emergency wording, cannot publish.
    ("super2", "Priya Raman", "supervisor", ["front_desk", "scheduling"]),
)
# Staff with the right to publish the call flow's wording (the clinic's administrators).
PUBLISHERS = frozenset({"super1"})
SIP_HOST = "127.0.0.1"
SIP_FIRST_PORT = 5070

KEY_PATIENTS = (
    DemoPatient(
        "DEMO0001",
        "Maria",
        "Lopez",
        date(1972, 3, 4),
        ("+15550100001",),
        (DemoMed("lisinopril", "10 mg", 3), DemoMed("metformin", "500 mg", 2)),
    ),
    DemoPatient(
        "DEMO0002",
        "James",
        "Carter",
        date(1958, 11, 20),
        ("+15550100002",),
        (DemoMed("atorvastatin", "40 mg", 1), DemoMed("amlodipine", "5 mg", 0)),
    ),
    DemoPatient(
        "DEMO0003",
        "Aisha",
        "Khan",
        date(1990, 7, 19),
        ("+15550100003",),
        (DemoMed("albuterol inhaler", "90 mcg", 2), DemoMed("sertraline", "50 mg", 1)),
    ),
    # Twins on one household line: name + DOB + caller ID cannot tell them apart by ear.
    DemoPatient("DEMO0004", "Daniel", "Reyes", date(2001, 9, 14), ("+15550100004",)),
    DemoPatient("DEMO0005", "Danielle", "Reyes", date(2001, 9, 14), ("+15550100004",)),
)

FIRST_NAMES = (
    "Siobhan",
    "Oluwaseun",
    "Xiaoming",
    "Krzysztof",
    "Aoife",
    "Thandiwe",
    "Raghunathan",
    "Mhairi",
    "Nnamdi",
    "Saoirse",
    "Ngozi",
    "Kwame",
    "Yusuf",
    "Leilani",
    "Dmitri",
    "Anh",
    "Björn",
    "José",
    "Zoë",
    "Giorgos",
    "Emily",
    "Michael",
    "Sarah",
    "David",
    "Jennifer",
    "Robert",
    "Linda",
    "William",
    "Patricia",
    "Christopher",
    "Grace",
    "Mohammed",
    "Fatima",
    "Hiroshi",
    "Ingrid",
    "Tadhg",
)
LAST_NAMES = (
    "O'Sullivan",
    "Adeyemi",
    "Zhao",
    "Wojciechowski",
    "Papadopoulos",
    "Okonkwo",
    "Venkataraman",
    "MacLeod",
    "Fitzgerald-Hughes",
    "Van der Berg",
    "García",
    "Müller",
    "Ng",
    "Le",
    "Tran",
    "Smith",
    "Johnson",
    "Brown",
    "Davis",
    "Miller",
    "Wilson",
    "Thompson",
    "Nakamura",
    "Abernathy",
    "Kowalski",
    "Haddad",
    "Schoenberger",
    "Mbeki",
    "Jovanović",
    "Featherstonehaugh",
    "Castellanos",
    "Lindqvist",
)
MEDICATION_POOL = (
    DemoMed("lisinopril", "20 mg", 0),
    DemoMed("metformin", "1000 mg", 0),
    DemoMed("levothyroxine", "75 mcg", 0),
    DemoMed("atorvastatin", "20 mg", 0),
    DemoMed("omeprazole", "20 mg", 0),
    DemoMed("amlodipine", "10 mg", 0),
    DemoMed("losartan", "50 mg", 0),
    DemoMed("hydrochlorothiazide", "25 mg", 0),
    DemoMed("montelukast", "10 mg", 0),
    DemoMed("escitalopram", "10 mg", 0),
    DemoMed("gabapentin", "300 mg", 0),
    DemoMed("albuterol inhaler", "90 mcg", 0),
    DemoMed("alprazolam", "0.5 mg", 0, controlled=True),
    DemoMed("hydrocodone-acetaminophen", "5-325 mg", 0, controlled=True),
    DemoMed("methylphenidate", "10 mg", 0, controlled=True),
)
SYNTHETIC_PATIENTS = 36
RANDOM_SEED = 20260304
