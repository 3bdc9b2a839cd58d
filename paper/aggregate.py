"""paper/aggregate.py - tables (Markdown + LaTeX), figures and the manifest from run directories.

Reads only run directories: config.json (checked against the configuration the table asks for),
metrics.csv (the row at the best-valid epoch, the per-epoch quantities) and summary.json (the run
finished; its best-valid epoch). provenance.json (commit), written by sweep.py, goes into the
manifest only. T6 also reads meta_json.ground_truth of the planted data named in config.json.
A run directory that is missing, partial or from another configuration is listed under the table
and not averaged in. Tables carry no timings and no absolute paths, so the same runs give the same
bytes wherever they were made.
"""
import ast
import json
import math
import os
import statistics
import struct
import zipfile

QUANT = ["ft", "fa", "fv", "in", "st", "sa", "sv", "cp"]
QNAME = {"ft": "fus_T", "fa": "fus_A", "fv": "fus_V", "in": "inv", "st": "spec_T", "sa": "spec_A", "sv": "spec_V", "cp": "comp"}
COLS = {  # metrics.csv suffix -> (header, scale, decimals)
    "acc2_has0": ("Acc-2 has0 (%)", 100, 2), "acc2_non0": ("Acc-2 non0 (%)", 100, 2),
    "f1_has0": ("F1 has0 (%)", 100, 2), "f1_non0": ("F1 non0 (%)", 100, 2),
    "mae": ("MAE", 1, 3), "corr": ("Corr", 1, 3), "acc7": ("Acc-7 (%)", 100, 2),
    "ccc": ("CCC", 1, 3), "rmse": ("RMSE (x25)", 1, 3),
}


# ------------------------------------------------------------------ run directories
def _same(expected, found):
    """flag value as given on the command line vs. as written to config.json."""
    if expected is True or expected is False:
        return found is expected
    e, f = str(expected), found
    if isinstance(f, bool):
        return False
    try:
        return math.isclose(float(e), float(f), rel_tol=1e-12, abs_tol=0)
    except (TypeError, ValueError):
        pass
    fs = str(f)
    if e == fs:
        return True
    try:
        a, b = [float(x) for x in e.split("-")], [float(x) for x in fs.split("-")]
        return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-12) for x, y in zip(a, b))
    except ValueError:
        return False


def read_run(run):
    """-> dict(status=ok|missing|partial|other, reason, best, rows, summary, provenance)."""
    d = run.dir
    res = {"status": "ok", "reason": "", "rows": [], "best": None, "summary": None, "provenance": None, "data": None}
    cfg_path = os.path.join(d, "config.json")
    if not os.path.isdir(d):
        return dict(res, status="missing", reason="no run directory")
    try:
        with open(cfg_path) as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        return dict(res, status="missing", reason="no readable config.json (%s)" % e.__class__.__name__)
    res["data"] = cfg.get("data")
    bad = [k for k, v in run.flags.items() if k not in cfg or not _same(v, cfg[k])]
    if bad:
        k = bad[0]
        return dict(res, status="other", reason="other configuration: %s expected %s, found %s%s"
                    % (k, run.flags[k], cfg.get(k, "(absent)"), " (+%d more)" % (len(bad) - 1) if len(bad) > 1 else ""))
    if os.path.basename(str(cfg.get("data", ""))) != os.path.basename(run.data):
        return dict(res, status="other", reason="other data: %s, expected .../%s" % (cfg.get("data"), os.path.basename(run.data)))
    try:
        with open(os.path.join(d, "metrics.csv")) as f:
            lines = [l for l in f.read().splitlines() if l]
        head = lines[0].split(",")
        res["rows"] = [dict(zip(head, (float(x) for x in l.split(",")))) for l in lines[1:]]
    except (OSError, IndexError, ValueError):
        return dict(res, status="partial", reason="no readable metrics.csv")
    epochs = int(run.flags.get("epochs_num", 70))
    try:
        with open(os.path.join(d, "summary.json")) as f:
            summ = json.load(f)
    except (OSError, ValueError):
        return dict(res, status="partial", reason="partial: %d of %d epochs in metrics.csv, no summary.json" % (len(res["rows"]), epochs))
    if len(res["rows"]) != epochs or summ.get("epochs") != epochs:
        return dict(res, status="partial", reason="partial: metrics.csv has %d rows, summary.json %s epochs, expected %d"
                    % (len(res["rows"]), summ.get("epochs"), epochs))
    be = summ.get("best_valid_epoch", -1)
    best = [r for r in res["rows"] if int(r["epoch"]) == be]
    if not best:
        return dict(res, status="partial", reason="best_valid_epoch %s has no metrics.csv row" % be)
    res["best"], res["summary"] = best[0], summ
    tab = summ.get("test_at_best_valid", {})
    if "mae" in tab and not (math.isnan(tab["mae"]) or math.isclose(tab["mae"], res["best"]["test_mae"], rel_tol=1e-8)):
        return dict(res, status="other", reason="summary.json and metrics.csv disagree on the test MAE at the best epoch")
    try:
        with open(os.path.join(d, "provenance.json")) as f:
            res["provenance"] = json.load(f)
    except (OSError, ValueError):
        pass
    return res


# ------------------------------------------------------------------ numbers
def mean_sd(vals, scale=1.0, dec=3):
    if not vals:
        return "—"
    v = [x * scale for x in vals]
    if any(math.isnan(x) for x in v):
        return "nan"
    m = statistics.fmean(v)
    if len(v) == 1:
        return "%.*f" % (dec, m)
    return "%.*f ± %.*f" % (dec, m, dec, statistics.stdev(v))


def shares(q):
    tot = sum(abs(x) for x in q)
    return [100.0 * x / tot if tot > 0 else float("nan") for x in q]


def read_ground_truth(prefix):
    """meta_json.ground_truth of PREFIX_train.npz, read with the stdlib (zip + npy header)."""
    with zipfile.ZipFile(prefix + "_train.npz") as z:
        raw = z.read("meta_json.npy")
    assert raw[:6] == b"\x93NUMPY", "meta_json.npy is not an npy file"
    if raw[6] == 1:
        hl, off = struct.unpack("<H", raw[8:10])[0], 10
    else:
        hl, off = struct.unpack("<I", raw[8:12])[0], 12
    hdr = ast.literal_eval(raw[off:off + hl].decode("latin1"))
    body = raw[off + hl:]
    text = body.decode("utf-32-le") if "U" in hdr["descr"] else body.decode("utf-8")
    return json.loads(text.rstrip("\x00"))["ground_truth"]


def planted_truth(gt):
    g = lambda k: gt[k]["value"]
    return {
        "in": g("I(T;A)") + g("I(T;V)"),
        "st": g("I(T;Y|A)") + g("I(T;Y|V)") - g("I(T;A|Y)") - g("I(T;V|Y)"),
        "sa": g("I(A;Y|T)") - g("I(T;A|Y)"),
        "sv": g("I(V;Y|T)") - g("I(T;V|Y)"),
        "cp": g("I(T;A|Y)") + g("I(T;V|Y)"),
    }


# ------------------------------------------------------------------ rendering
def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def tex_escape(s):
    s = str(s)
    for a, b in (("\\", "\\textbackslash{}"), ("&", "\\&"), ("%", "\\%"), ("_", "\\_"), ("#", "\\#"),
                 ("±", "$\\pm$"), ("—", "--"), ("≈", "$\\approx$"), ("×", "$\\times$")):
        s = s.replace(a, b)
    return s


def tex_table(title, header, rows, notes):
    lines = ["% generated by paper/aggregate.py from paper/experiments.json; do not edit",
             "\\begin{table}[t]", "\\centering", "\\caption{%s}" % tex_escape(title), "\\small",
             "\\begin{tabular}{%s}" % ("l" * 2 + "r" * (len(header) - 2)), "\\hline",
             " & ".join(tex_escape(h) for h in header) + " \\\\", "\\hline"]
    lines += [" & ".join(tex_escape(c) for c in r) + " \\\\" for r in rows]
    lines += ["\\hline", "\\end{tabular}", "\\par\\smallskip\\footnotesize"]
    lines += [tex_escape(n) + "\\par" for n in notes]
    lines += ["\\end{table}", ""]
    return "\n".join(lines)


def fmt_pub(v, unit):
    """published numbers are strings in experiments.json, shown as printed (x100 units divided by 100)."""
    if v is None:
        return "—"
    if unit == "x100":
        dec = len(v.split(".")[1]) if "." in v else 0
        return "%.*f" % (dec + 2, float(v) / 100)
    return v


# ------------------------------------------------------------------ tables
class Ctx:
    def __init__(self, spec, profile, root, dplan, skipped, runs):
        self.spec, self.profile, self.root, self.dplan = spec, profile, root, dplan
        self.skipped = dict(skipped)
        self.runs = runs  # (dataset, config) -> [Run]
        self.cache = {}
        self.manifest = {}

    def results(self, ds, cfg, table):
        out = []
        for r in self.runs.get((ds, cfg), []):
            if r.id not in self.cache:
                self.cache[r.id] = read_run(r)
            res = self.cache[r.id]
            prov = res["provenance"] or {}
            self.manifest.setdefault(table, []).append({
                "dataset": ds, "config": cfg, "seed": r.seed, "run_dir": r.dir, "status": res["status"],
                "reason": res["reason"], "commit": prov.get("commit", "unknown (no provenance.json)"),
                "data": res["data"] or r.data})
            out.append((r, res))
        return out


def row_label(spec, row):
    return row.get("label") or spec["configs"][row["config"]]["label"]


def table_notes(ctx, datasets, problems):
    prof = ctx.spec["profiles"][ctx.profile]
    notes = ["Profile: %s — %s" % (ctx.profile, prof["about"])]
    for ds in datasets:
        d = ctx.dplan.get(ds, {})
        notes.append("Data %s: %s" % (ds, d.get("describe") or "not run: " + d.get("skip", "?")))
    if problems:
        notes.append("Not included (reported, not averaged in): " + "; ".join(problems))
    return notes


def build_metrics(ctx, tname, t):
    spec = ctx.spec
    header = ["Dataset", "Model", "Seeds"] + [COLS[c][0] for c in t["columns"]]
    extra = t.get("extra_info_columns", [])
    header += ["%s (valid, nats)" % QNAME[q] for q in extra]
    rows, problems, sources, datasets = [], [], [], []
    for g in t["groups"]:
        ds = g["dataset"]
        datasets.append(ds)
        title = spec["datasets"][ds]["title"]
        for b in spec["baselines"].get(g.get("baselines", ""), []):
            sources.append(b["source"])
            unit = b.get("units", {})
            rows.append([title, "%s [%d]" % (b["model"], len(sources)), "published"] +
                        [fmt_pub(b.get(c), unit.get(c)) for c in t["columns"]] + ["—" for _ in extra])
        for row in g["rows"]:
            if ds in ctx.skipped:
                rows.append([title, row_label(spec, row), "not run"] + ["—"] * (len(t["columns"]) + len(extra)))
                continue
            ok = []
            for r, res in ctx.results(ds, row["config"], tname):
                if res["status"] == "ok":
                    ok.append(res["best"])
                else:
                    problems.append("%s: %s" % (r.rel, res["reason"]))
            n_all = len(ctx.runs.get((ds, row["config"]), []))
            cells = [mean_sd([b["test_" + c] for b in ok], COLS[c][1], COLS[c][2]) for c in t["columns"]]
            cells += [mean_sd([b["valid_" + q] for b in ok]) for q in extra]
            rows.append([title, row_label(spec, row) + " (this implementation)", "%d/%d" % (len(ok), n_all)] + cells)
    notes = table_notes(ctx, datasets, problems)
    notes.append("This implementation: test split at the best-valid epoch (valid MAE; CCC for AVEC), mean ± sample sd over seeds.")
    if any(c in ("mae", "rmse") for c in t["columns"]) and any(g["dataset"] == "avec" for g in t["groups"]):
        notes.append("AVEC: MAE on the stored label scale (PHQ-8/25), RMSE on predictions and labels ×25 (spec 6.2).")
    if sources:
        notes.append("Published rows copied from spec/anchors.md, not recomputed; MMSA rows give MAE and Corr ×100 and are shown divided by 100. Sources: "
                     + " ".join("[%d] %s." % (i + 1, s) for i, s in enumerate(sources)))
    return header, rows, notes


def info_values(ctx, tname, ds, cfg, split):
    ok, problems = [], []
    for r, res in ctx.results(ds, cfg, tname):
        if res["status"] == "ok":
            ok.append([res["best"]["%s_%s" % (split, q)] for q in QUANT])
        else:
            problems.append("%s: %s" % (r.rel, res["reason"]))
    return ok, problems


def build_information(ctx, tname, t):
    split = t.get("split", "valid")
    header = ["Dataset", "Row", "Seeds"] + [QNAME[q] for q in QUANT]
    rows, problems, datasets = [], [], []
    ctx.shares = {}
    for g in t["groups"]:
        ds = g["dataset"]
        datasets.append(ds)
        title = ctx.spec["datasets"][ds]["title"]
        for row in g["rows"]:
            if ds in ctx.skipped:
                rows.append([title, "not run", "0/0"] + ["—"] * 8)
                continue
            ok, p = info_values(ctx, tname, ds, row["config"], split)
            problems += p
            n = "%d/%d" % (len(ok), len(ctx.runs.get((ds, row["config"]), [])))
            rows.append([title, "amount (nats)", n] + [mean_sd([v[i] for v in ok]) for i in range(8)])
            sh = [shares(v) for v in ok]
            rows.append([title, "share (%)", n] + [mean_sd([s[i] for s in sh], 1, 1) for i in range(8)])
            if sh:
                ctx.shares[ds] = [statistics.fmean(s[i] for s in sh) for i in range(8)]
    notes = table_notes(ctx, datasets, problems)
    notes.append("Amounts: the %s-split averages of the 8 estimated quantities in metrics.csv at the best-valid epoch, mean ± sd over seeds. "
                 "Share of a quantity = 100 · q / Σ|q| over the 8 (per seed, then averaged); negative estimates give negative shares." % split)
    return header, rows, notes


def build_planted(ctx, tname, t):
    split = t.get("split", "valid")
    g = t["groups"][0]
    ds = g["dataset"]
    header = ["Quantity", "Planted (ground truth)"] + [row_label(ctx.spec, r) for r in g["rows"]]
    problems, est = [], []
    truth, truth_note = {}, ""
    for row in g["rows"]:
        ok, p = info_values(ctx, tname, ds, row["config"], split)
        problems += p
        est.append(ok)
    data = ctx.dplan.get(ds, {}).get("prefix")
    try:
        truth = planted_truth(read_ground_truth(data))
        truth_note = "Ground truth: meta_json.ground_truth of %s_train.npz (raw views T, A, V and the unclipped label Y; closed form or Monte Carlo as the file states)." % os.path.basename(data)
    except (OSError, KeyError, AssertionError, ValueError, TypeError) as e:
        truth_note = "Ground truth unavailable: %s" % e
    rows = []
    for i, q in enumerate(QUANT):
        tv = "%.3f" % truth[q] if q in truth else "n/a (F is learned)"
        rows.append([QNAME[q], tv] + ["%s (n=%d)" % (mean_sd([v[i] for v in ok]), len(ok)) for ok in est])
    notes = table_notes(ctx, [ds], problems)
    notes.append(truth_note)
    notes.append("Composites as MIMRL forms them (spec 4.1): inv = I(T;A)+I(T;V); spec_T = I(T;Y|A)+I(T;Y|V)−I(T;A|Y)−I(T;V|Y); "
                 "spec_A = I(A;Y|T)−I(T;A|Y); spec_V = I(V;Y|T)−I(T;V|Y); comp = I(T;A|Y)+I(T;V|Y). Estimates are %s-split averages at the "
                 "best-valid epoch, of the learned representations (which can hold less than the raw views), mean ± sd over seeds." % split)
    return header, rows, notes


BUILDERS = {"metrics": build_metrics, "information": build_information, "planted": build_planted}


# ------------------------------------------------------------------ figures
def figures(ctx, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return ["figures skipped: matplotlib not importable (%s); apt-get install python3-matplotlib" % e]
    made = []
    synth = ctx.spec["profiles"][ctx.profile]["data"] == "synthetic"
    for fname, f in ctx.spec["figures"].items():
        if f["kind"] == "curves":
            for spec_run in f["runs"]:
                ds, cfg = spec_run["dataset"], spec_run["config"]
                if ds in ctx.skipped:
                    continue
                good = [res for _, res in ctx.results(ds, cfg, fname) if res["status"] == "ok"]
                if not good:
                    continue
                fig, axes = plt.subplots(2, 4, figsize=(13, 5.5), sharex=True)
                for i, q in enumerate(QUANT):
                    ax = axes[i // 4][i % 4]
                    for split, style in (("train", "-"), ("valid", "--")):
                        ep = [r["epoch"] for r in good[0]["rows"]]
                        ys = [statistics.fmean(res["rows"][k]["%s_%s" % (split, q)] for res in good) for k in range(len(ep))]
                        ax.plot(ep, ys, style, label=split)
                    ax.set_title(QNAME[q])
                    if i >= 4:
                        ax.set_xlabel("epoch")
                axes[0][0].legend()
                d = ctx.dplan[ds]
                tag = " [synthetic data]" if d.get("synthetic") else ""
                fig.suptitle("%s: %s — %s (%s), %d seeds, profile %s%s" % (fname, ctx.spec["datasets"][ds]["title"], cfg, "nats", len(good), ctx.profile, tag))
                fig.tight_layout()
                p = os.path.join(out, "%s_%s.png" % (fname, ds))
                fig.savefig(p, dpi=90)
                plt.close(fig)
                made.append(os.path.basename(p))
        elif f["kind"] == "shares" and getattr(ctx, "shares", None):
            fig, ax = plt.subplots(figsize=(10, 4))
            names = list(ctx.shares)
            w = 0.8 / max(1, len(names))
            for j, ds in enumerate(names):
                ax.bar([i + j * w for i in range(8)], ctx.shares[ds], w, label=ctx.spec["datasets"][ds]["title"])
            ax.set_xticks([i + w * (len(names) - 1) / 2 for i in range(8)])
            ax.set_xticklabels([QNAME[q] for q in QUANT])
            ax.set_ylabel("share (%) of Σ|q|")
            ax.axhline(0, color="k", lw=0.5)
            ax.legend()
            ax.set_title("%s: %s — profile %s%s" % (fname, f["title"], ctx.profile, " [synthetic data]" if synth else ""))
            fig.tight_layout()
            p = os.path.join(out, "%s_shares.png" % fname)
            fig.savefig(p, dpi=90)
            plt.close(fig)
            made.append(os.path.basename(p))
    return made


# ------------------------------------------------------------------ entry point
def aggregate(spec, profile, root, out, dplan, skipped, tables=None):
    import sweep
    runs, _, _ = sweep.plan_runs(spec, profile, root, os.environ, tables)
    by = {}
    for r in runs:
        by.setdefault((r.dataset, r.config), []).append(r)
    ctx = Ctx(spec, profile, root, dplan, skipped, by)
    os.makedirs(out, exist_ok=True)
    index = ["# Paper tables — profile `%s`" % profile, "",
             "Generated by `make paper PAPER_PROFILE=%s` (paper/sweep.py, paper/aggregate.py) from paper/experiments.json. "
             "Every number traces to run directories in manifest.json." % profile, ""]
    if spec["profiles"][profile]["data"] == "synthetic":
        index += ["**All data in this profile is synthetic (`mimrl synth`): these are not the paper's results.**", ""]
    reported = 0
    names = tables or list(spec["tables"])
    for tname in names:
        t = spec["tables"][tname]
        header, rows, notes = BUILDERS[t["kind"]](ctx, tname, t)
        title = "%s — %s" % (tname, t["title"])
        md = "### %s\n\n%s\n\n%s\n" % (title, md_table(header, rows), "\n".join("* " + n for n in notes))
        with open(os.path.join(out, tname + ".md"), "w") as f:
            f.write(md)
        with open(os.path.join(out, tname + ".tex"), "w") as f:
            f.write(tex_table(title, header, rows, notes))
        index += [md, ""]
        bad = [m for m in ctx.manifest.get(tname, []) if m["status"] != "ok"]
        reported += len(bad)
        for m in bad:
            print("[paper] %s: not averaged in: %s: %s" % (tname, os.path.relpath(m["run_dir"], root), m["reason"]))
    figs = figures(ctx, out) if tables is None else []
    for fg in figs:
        if fg.endswith(".png"):
            index.append("![%s](%s)" % (fg, fg))
        else:
            index.append("* " + fg)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(index) + "\n")
    import sweep as sw
    manifest = {"profile": profile, "run_root": root, "aggregated_at_commit": sw.git_commit(),
                "data": {k: v for k, v in dplan.items()}, "tables": ctx.manifest, "figures": figs}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    print("[paper] wrote %s: %s, figures %s; %d run directories reported as missing/partial/other"
          % (out, ", ".join(n + ".md/.tex" for n in names), ", ".join(figs) or "none", reported))
    return 0
