"""Paper 000, Table 4: the WANN's predictions per (CNN prediction, RNN prediction) pair.

The report lists, for each pair of unimodal predictions, how many posts the
WANN put in each class and its accuracy there; the paper's counts (on its
Instagram set, 7,809 posts) are in the notes for comparison of the pattern.
"""

from experiments.configs._common import finish
from experiments.configs.instagram_wann_table3 import base, rows

PAPER_TABLE = """Paper's Table 4 (CNN pred., RNN pred.: WANN classified as 0 / 1 / 2, WANN accuracy):
0,0: 384/0/0, 72% · 0,1: 185/0/0, 59% · 0,2: 21/201/346, 47% · 1,0: 817/4/0, 72% · 1,1: 364/9/0, 60% ·
1,2: 22/419/943, 45% · 2,0: 381/287/0, 53% · 2,1: 35/404/0, 48% · 2,2: 0/60/2127, 61%."""


def get_config(smoke: bool = False) -> dict:
    rows_ = rows() + [{"name": "pairs", "kind": "wann_pairs", "rows": ["CNN", "RNN", "WANN"]}]
    config = base(
        "Interpreting user sentiment in Instagram posts (paper 000), Table 4", rows_, ["accuracy"], smoke, PAPER_TABLE
    )
    return finish(config, smoke)
