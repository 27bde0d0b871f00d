"""Prints the README table from each function's answer.json and measured.json."""
import json, glob, os
os.chdir(os.path.dirname(os.path.abspath(__file__)))
libs = {"ml_inference": "pandas, scikit-learn, joblib (+ boto3)", "graph": "python-igraph (+ networkx)", "nlp": "nltk",
        "template": "Jinja2 (+ simplejson)", "validate": "pydantic v2 (+ python-dateutil)", "image": "scikit-image, Pillow, numpy",
        "boto3_stub": "boto3 + local S3 stub (+ pandas)", "data_at_import": "vendored vendor_pkg (9 MB JSON)",
        "heavy_subpackages": "scipy (special; + stats)", "rare_branch": "openpyxl", "cli_leftover": "click, rich, tqdm, pkg_resources, dateutil",
        "control_markdown": "Markdown"}
print("| function | libraries | answer key (statement: module, pattern) | must not flag | init before → after (median ms, 20 interleaved) | paired saving median [IQR] | init CPU before → after (ms) | answers identical |")
print("|---|---|---|---|---|---|---|---|")
for n in sorted(libs):
    a = json.load(open(n + "/answer.json")); m = json.load(open(n + "/measured.json"))
    keys = "<br>".join("%s%s: %s, %s" % ("**" if f.get("primary") else "", f["statement"], f["module"], f["pattern"] + ("**" if f.get("primary") else "")) for f in a["findings"]) or "— (control: nothing)"
    b = m.get("by_hand_fix")
    if b:
        init = "%.0f → %.0f" % (b["init_ms_before"]["median"], b["init_ms_after"]["median"])
        sav = "%.0f [%.0f–%.0f]" % (b["saving_ms_paired"]["median"], b["saving_ms_paired"]["p25"], b["saving_ms_paired"]["p75"])
        ident = "yes" if b["answers_identical"] else "NO"
        cpu = "%.0f → %.0f" % (b["init_cpu_ms_before"]["median"], b["init_cpu_ms_after"]["median"])
    else:
        init = "%.0f (no fix)" % m["init_ms"]["median"]; sav = "—"; ident = "—"; cpu = "%.0f" % m["init_cpu_ms"]["median"]
    for v, r in (m.get("other_variants") or {}).items():
        init += "<br>%s: %.0f → %.0f" % (v, r["init_ms_before"]["median"], r["init_ms_after"]["median"])
        sav += "<br>%.0f [%.0f–%.0f]" % (r["saving_ms_paired"]["median"], r["saving_ms_paired"]["p25"], r["saving_ms_paired"]["p75"])
        ident += "<br>" + ("yes" if r["answers_identical"] else "NO")
        cpu += "<br>%.0f → %.0f" % (r["init_cpu_ms_before"]["median"], r["init_cpu_ms_after"]["median"])
    print("| `%s` | %s | %s | %s | %s | %s | %s | %s |" % (n, libs[n], keys, ", ".join(a["must_not_flag"]), init, sav, cpu, ident))
