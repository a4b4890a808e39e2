"""What the self-contained HTML pages share: figures inlined as PNG, the page style."""
from __future__ import annotations

import base64
import io

import matplotlib
from jinja2 import Environment, PackageLoader, Template, select_autoescape

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = """body{font-family:"Noto Sans CJK SC","Microsoft YaHei",Arial,sans-serif;max-width:980px;margin:auto;padding:24px;color:#1d2733}
table{border-collapse:collapse;width:100%;font-size:13px;margin-bottom:14px}td,th{border-bottom:1px solid #e3e8ee;padding:5px;text-align:left}
td{text-align:right}h2{border-bottom:2px solid #2a5d8f;font-size:16px}.note{font-size:12px;color:#5b6b7c}"""


def template(name: str) -> Template:
    """A page template of templates/ (HTML autoescaped): every page is rendered through one."""
    return Environment(loader=PackageLoader("innoscore.model.reports", "templates"),
                       autoescape=select_autoescape(["html", "j2"])).get_template(name)


def png_img(fig) -> str:
    """The figure as an inline <img> (the page needs no other file); closes the figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="" style="max-width:100%" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'
