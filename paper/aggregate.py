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

import plan

QUANT = ["ft", "fa", "fv", "in", "st", "sa", "sv", "cp"]
QNAME = {"ft": "fus_T", "fa": "fus_A", "fv": "fus_V", "in": "inv", "st": "spec_T", "sa": "spec_A", "sv": "spec_V", "cp": "comp"}
COLS = {  # table column -> (header, scale, decimals, metrics.csv suffix)
    "acc2_has0": ("Acc-2 has0 (%)", 100, 2, "acc2_has0"), "acc2_non0": ("Acc-2 non0 (%)", 100, 2, "acc2_non0"),
    "f1_has0": ("F1 has0 (%)", 100, 2, "f1_has0"), "f1_non0": ("F1 non0 (%)", 100, 2, "f1_non0"),
    "mae": ("MAE", 1, 3, "mae"), "corr": ("Corr", 1, 3, "corr"), "acc7": ("Acc-7 (%)", 100, 2, "acc7"),
    "ccc": ("CCC", 1, 3, "ccc"),
    # AVEC 2019 on one scale, PHQ-8 points (0-24): the official RMSE is computed on predictions and labels x25
    # (spec 6.2); the official MAE is logged on the stored scale (PHQ-8/25), so it is shown x25 here.
    "mae_phq8": ("MAE (PHQ-8 points)", 25, 3, "mae"), "rmse": ("RMSE (PHQ-8 points)", 1, 3, "rmse"),
}

# Units. The VMI estimates (fus_T, fus_A, fus_V and the two terms of inv) are bounds on MI in nats. The CMI
# terms (in spec_T, spec_A, spec_V and comp) are logged twice from the same classifier outputs: by the
# official read-out 1 + s_J/n - s_P/n (spec 3.4, O-12: offset 1, half scale; NOT nats), metrics.csv
# <split>_<q>, and by the textbook dv read-out mean_J log r - log mean_P r (CMINE/CCMI), in nats,
# metrics.csv <split>_<q>_nats. Amounts, shares and curves use the nats columns only.
CMI_Q = ("st", "sa", "sv", "cp")
NATS_NOTE = ("Units: nats. fus_T, fus_A, fus_V and inv are the %s bound's estimates (InfoNCE cannot exceed log B = log batch size); "
             "spec_T, spec_A, spec_V and comp combine CMI terms read out from the CMINE classifiers by the textbook dv read-out "
             "(mean_J log r - log mean_P r, r = gamma/(1-gamma)), in nats. The official read-out of the same classifiers "
             "(1 + s_J/n - s_P/n: offset 1, half scale, not nats) is what MIMRL trains on.")
OFFICIAL_NOTE = "official read-out (offset 1, half scale, not nats)"


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
    found_text = cfg.get("text_input", "features")
    if found_text != getattr(run, "text", "features"):
        return dict(res, status="other", reason="other text protocol: expected %s, found %s" % (run.text, found_text))
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
    changed = plan.data_changed(d, run.data)
    if changed:
        return dict(res, status="other", reason="data changed since this run: %s (sha256 differs from provenance.json)" % ", ".join(changed))
    return res


# ------------------------------------------------------------------ numbers
def min_seeds(spec, profile):
    """the fewest complete seeds a cell needs to show a mean; below it the cell shows k/n only."""
    return int(spec["profiles"][profile].get("min_seeds", spec.get("min_seeds", 3)))


def finite_runs(results, keys):
    """split (run, best-row) pairs into those finite in every key and the problems naming the others."""
    ok, problems = [], []
    for r, best in results:
        bad = [k for k in keys if k not in best]
        if bad:
            problems.append("%s: metrics.csv has no column %s (made by an older mimrl?)" % (r.rel, bad[0]))
            continue
        nan = [k for k in keys if not math.isfinite(best[k])]
        if nan:
            problems.append("%s: seed %s: non-finite %s (counted, not averaged)" % (r.rel, r.seed, ", ".join(nan)))
            continue
        ok.append(best)
    return ok, problems


def cell(vals, n_all, need, scale=1.0, dec=3):
    """mean ± sd when at least `need` seeds are complete; otherwise 'k/n seeds', never a number to compare."""
    if len(vals) < need:
        return "%d/%d seeds" % (len(vals), n_all)
    return mean_sd(vals, scale, dec)


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


def reading_notes(t, synthetic):
    """what the table shows and what it cannot show (experiments.json tables.*.reading), and, on synthetic
    data, what it cannot show because the data is generated; first in every table's notes."""
    r = t.get("reading")
    if not r:
        return []
    notes = ["What this table shows: " + r["shows"], "What it cannot show: " + r["cannot_show"]]
    if synthetic and r.get("cannot_show_synthetic"):
        notes.append("What it cannot show on this profile's synthetic data, whatever the numbers: " + r["cannot_show_synthetic"])
    return notes


def table_notes(ctx, datasets, problems):
    prof = ctx.spec["profiles"][ctx.profile]
    text = prof.get("text", "features")
    notes = ["Profile: %s — %s" % (ctx.profile, prof["about"]),
             "Text protocol: %s — %s" % (text, ctx.spec["text_protocols"][text])]
    for ds in datasets:
        d = ctx.dplan.get(ds, {})
        notes.append("Data %s: %s" % (ds, d.get("describe") or "not run: " + d.get("skip", "?")))
    if problems:
        notes.append("Not included (reported, not averaged in): " + "; ".join(problems))
    return notes


def build_metrics(ctx, tname, t):
    spec = ctx.spec
    need = min_seeds(spec, ctx.profile)
    header = ["Dataset", "Model", "Seeds"] + [COLS[c][0] for c in t["columns"]]
    extra = t.get("extra_info_columns", [])
    header += ["%s (valid, nats)" % QNAME[q] for q in extra]
    best_test = t.get("best_test_column", False)
    if best_test:
        header += ["best-test MAE (selected on test, O-24)"]
    rows, problems, sources, datasets = [], [], [], []
    for g in t["groups"]:
        ds = g["dataset"]
        datasets.append(ds)
        title = spec["datasets"][ds]["title"]
        for b in spec["baselines"].get(g.get("baselines", ""), []):
            sources.append(b["source"])
            unit = b.get("units", {})
            rows.append([title, "%s [%d]" % (b["model"], len(sources)), "published"] +
                        [fmt_pub(b.get(c), unit.get(c)) for c in t["columns"]] + ["—" for _ in extra] + (["—"] if best_test else []))
        for row in g["rows"]:
            if ds in ctx.skipped:
                rows.append([title, row_label(spec, row), "not run"] + ["—"] * (len(t["columns"]) + len(extra) + (1 if best_test else 0)))
                continue
            done, summaries = [], []
            for r, res in ctx.results(ds, row["config"], tname):
                if res["status"] == "ok":
                    done.append((r, res["best"]))
                    summaries.append(res["summary"])
                else:
                    problems.append("%s: %s" % (r.rel, res["reason"]))
            keys = ["test_" + COLS[c][3] for c in t["columns"]] + ["valid_%s_nats" % q for q in extra]
            ok, p = finite_runs(done, keys)
            problems += p
            n_all = len(ctx.runs.get((ds, row["config"]), []))
            cells = [cell([b["test_" + COLS[c][3]] for b in ok], n_all, need, COLS[c][1], COLS[c][2]) for c in t["columns"]]
            cells += [cell([b["valid_%s_nats" % q] for b in ok], n_all, need) for q in extra]
            if best_test:
                bt = [sm["best_test_selected_on_test"]["mae"] for sm in summaries
                      if math.isfinite(sm.get("best_test_selected_on_test", {}).get("mae", float("nan")))]
                cells.append(cell(bt, n_all, need))
            rows.append([title, row_label(spec, row) + " (this implementation)", "%d/%d" % (len(ok), n_all)] + cells)
    notes = table_notes(ctx, datasets, problems)
    notes.append("This implementation: test split at the best-valid epoch (valid MAE; CCC for AVEC), mean ± sample sd over seeds; "
                 "a cell with fewer than %d complete seeds shows k/n only and is not to be compared." % need)
    if any(c in ("mae_phq8", "rmse") for c in t["columns"]) and any(g["dataset"] == "avec" for g in t["groups"]):
        notes.append("AVEC: MAE and RMSE both in PHQ-8 points (0-24): RMSE as the official code computes it (predictions and labels ×25, spec 6.2), "
                     "MAE from the official stored-scale MAE (PHQ-8/25) ×25.")
    if extra:
        notes.append("Information columns: valid-split averages at the best-valid epoch. "
                     + NATS_NOTE % ("row's (%s)" % bound_names(spec, [r["config"] for g in t["groups"] for r in g["rows"]])))
    if best_test:
        notes.append("best-test MAE: the best test MAE over all epochs, selected on the test split itself as the official code logs it (O-24); "
                     "optimistic by construction, shown only beside the headline.")
    if sources:
        notes.append("Published rows copied from spec/anchors.md, not recomputed; MMSA rows give MAE and Corr ×100 and are shown divided by 100. Sources: "
                     + " ".join("[%d] %s." % (i + 1, s) for i, s in enumerate(sources)))
    return header, rows, notes


def info_values(ctx, tname, ds, cfg, split, nats=True):
    """per complete seed, the 8 quantities at the best-valid epoch: in nats (default) or as read out officially."""
    done, problems = [], []
    for r, res in ctx.results(ds, cfg, tname):
        if res["status"] == "ok":
            done.append((r, res["best"]))
        else:
            problems.append("%s: %s" % (r.rel, res["reason"]))
    keys = ["%s_%s%s" % (split, q, "_nats" if nats else "") for q in QUANT]
    ok, p = finite_runs(done, keys)
    return [[b[k] for k in keys] for b in ok], problems + p


def bound_names(spec, cfgs):
    """the MI bounds behind a table's rows (flag bound_type of each config), for the unit note."""
    out = []
    for c in cfgs:
        conf = spec["configs"][c]
        b = conf.get("set", {}).get("bound_type") or spec["flagsets"][conf["base"]]["flags"].get("bound_type", "infonce")
        if b not in out:
            out.append(b)
    return "/".join(out)


def build_information(ctx, tname, t):
    split = t.get("split", "valid")
    need = min_seeds(ctx.spec, ctx.profile)
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
            off, _ = info_values(ctx, tname, ds, row["config"], split, nats=False)
            problems += p
            n_all = len(ctx.runs.get((ds, row["config"]), []))
            n = "%d/%d" % (len(ok), n_all)
            rows.append([title, "amount (nats)", n] + [cell([v[i] for v in ok], n_all, need) for i in range(8)])
            sh = [shares(v) for v in ok]
            rows.append([title, "share of Σ|q| in nats (%)", n] + [cell([s[i] for s in sh], n_all, need, 1, 1) for i in range(8)])
            rows.append([title, OFFICIAL_NOTE, "%d/%d" % (len(off), n_all)] +
                        ["= nats" if q not in CMI_Q else cell([v[i] for v in off], n_all, need) for i, q in enumerate(QUANT)])
            if len(sh) >= need:
                ctx.shares[ds] = [statistics.fmean(s[i] for s in sh) for i in range(8)]
    notes = table_notes(ctx, datasets, problems)
    notes.append("Amounts: the %s-split averages of the 8 estimated quantities in metrics.csv at the best-valid epoch, mean ± sd over seeds "
                 "(fewer than %d complete seeds: k/n only). " % (split, need)
                 + NATS_NOTE % bound_names(ctx.spec, [r["config"] for g in t["groups"] for r in g["rows"]]))
    notes.append("Shares: 100 · q / Σ|q| over the 8 amounts in nats (per seed, then averaged); negative estimates give negative shares. "
                 "No share is computed from the official read-out: its offset of 1 per CMI term would dominate any share.")
    notes.append("The %s row repeats spec_T, spec_A, spec_V and comp as the official code reads them out, for comparison with "
                 "the paper's numbers; its comp carries +2 from the offsets alone." % OFFICIAL_NOTE)
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
    notes.append("T6's question (do inv/spec/comp track planted redundancy/uniqueness/synergy?) is answered by the planted-information "
                 "study: paper/out/planted/ (make paper-planted; knob sweeps, MMI-PID reference, response matrix with verdicts). "
                 "This table is one setting side by side.")
    notes.append(truth_note)
    notes.append("Units: every estimate is in nats, whatever read-out its run trained with (the column names that): the VMI terms "
                 "by the run's bound, the CMI terms by the textbook dv read-out of the run's own classifiers (metrics.csv *_nats). "
                 "The official read-out's values (offset 1, half scale, not nats) are not shown here; T4 shows them beside the nats.")
    notes.append("Composites as MIMRL forms them (spec 4.1): inv = I(T;A)+I(T;V); spec_T = I(T;Y|A)+I(T;Y|V)−I(T;A|Y)−I(T;V|Y); "
                 "spec_A = I(A;Y|T)−I(T;A|Y); spec_V = I(V;Y|T)−I(T;V|Y); comp = I(T;A|Y)+I(T;V|Y). Estimates are %s-split averages at the "
                 "best-valid epoch, of the learned representations (which can hold less than the raw views), mean ± sd over seeds." % split)
    return header, rows, notes


def ratio_metric(task):
    """(metrics.csv column, header, larger is better) of a ratio table's task metric."""
    return ("test_ccc", "test CCC", True) if task == "avec" else ("test_mae", "test MAE", False)


def best_sets(table, better_high, B, rng):
    """table: config -> {seed: value} over the same seeds. Returns (point estimate of the best config,
    bootstrap frequency of each config being best, the smallest set of configs holding >= 95% of the
    bootstrap's best picks). Seeds are resampled with replacement, the same draw for every config
    (paired: a seed's data and initialisation are shared across the grid)."""
    cfgs = list(table)
    seeds = sorted(set.intersection(*[set(v) for v in table.values()])) if table else []
    if not seeds:
        return None, {}, []
    pick = (max if better_high else min)
    mean = {c: statistics.fmean(table[c][s] for s in seeds) for c in cfgs}
    best = pick(cfgs, key=lambda c: mean[c])
    freq = {c: 0 for c in cfgs}
    for _ in range(B):
        draw = [seeds[rng.randrange(len(seeds))] for _ in seeds]
        m = {c: statistics.fmean(table[c][s] for s in draw) for c in cfgs}
        freq[pick(cfgs, key=lambda c: m[c])] += 1
    order = sorted(cfgs, key=lambda c: (-freq[c], cfgs.index(c)))
    cover, tot = [], 0
    for c in order:
        cover.append(c)
        tot += freq[c]
        if tot >= 0.95 * B:
            break
    return best, {c: freq[c] / B for c in cfgs}, cover


def build_ratio(ctx, tname, t):
    """T7: the task metric over the ratio grid per dataset, the best ratio with its seed-bootstrap set, and
    whether two datasets' best ratios differ by more than seed noise (their 95% sets are disjoint)."""
    import random
    spec = ctx.spec
    need = min_seeds(spec, ctx.profile)
    groups = plan.table_groups(spec, ctx.profile, tname)
    header = ["Dataset", "inv : spec : comp", "Seeds", "metric", "bootstrap P(best)"]
    rows, problems, datasets, best_of = [], [], [], {}
    ctx.ratio = {}
    for g in groups:
        ds = g["dataset"]
        datasets.append(ds)
        title = spec["datasets"][ds]["title"]
        col, mname, high = ratio_metric(spec["datasets"][ds]["task"])
        if ds in ctx.skipped:
            rows.append([title, "not run", "0/0", "—", "—"])
            continue
        table, n_all, labels = {}, {}, {}
        for row in g["rows"]:
            c = row["config"]
            labels[c] = row.get("label") or spec["configs"][c]["label"]
            done = []
            for r, res in ctx.results(ds, c, tname):
                if res["status"] == "ok":
                    done.append((r, res["best"]))
                else:
                    problems.append("%s: %s" % (r.rel, res["reason"]))
            ok, p = finite_runs(done, [col])
            problems += p
            seeds_ok = [r.seed for r, b in done if b in ok]
            table[c] = {sd: b[col] for sd, b in zip(seeds_ok, ok)}
            n_all[c] = len(ctx.runs.get((ds, c), []))
        full = {c: v for c, v in table.items() if len(v) >= need}
        rng = random.Random(t.get("bootstrap_seed", 0))
        best, freq, cover = best_sets(full, high, t.get("bootstrap", 2000), rng) if len(full) == len(table) else (None, {}, [])
        best_of[ds] = (best, cover, labels)
        ctx.ratio[ds] = {"points": {c: spec["configs"][c].get("ratio") for c in table},
                         "mean": {c: statistics.fmean(v.values()) if len(v) >= need else None for c, v in table.items()},
                         "best": best, "metric": mname, "high": high, "title": title}
        for c in table:
            mark = " **best**" if c == best else ""
            rows.append([title, labels[c] + mark, "%d/%d" % (len(table[c]), n_all[c]),
                         cell(list(table[c].values()), n_all[c], need) + (" (%s)" % mname),
                         "%.2f" % freq[c] if freq else "—"])
    notes = table_notes(ctx, datasets, problems)
    notes.append(t["about"])
    grid = spec["profiles"][ctx.profile].get("ratio_grid", t["grid"])
    if grid != t["grid"]:
        notes.append("This profile uses a coarser grid: step 1/%d (%d points) instead of 1/%d, to keep it short." % (grid, len(plan.ratio_points(grid)), t["grid"]))
    notes.append("Best ratio: the grid point with the best seed-mean. bootstrap P(best): how often each point is best when the seeds are "
                 "resampled with replacement (%d resamples, the same draw for every point, fixed generator seed); the 95%% set is the "
                 "fewest points that hold 95%% of those picks. A dataset with fewer than %d complete seeds at any point gets no best ratio."
                 % (t.get("bootstrap", 2000), need))
    names = [d for d in datasets if best_of.get(d, (None,))[0]]
    for d, (best, cover, labels) in best_of.items():
        if best:
            notes.append("%s: best %s; 95%% bootstrap set: %s." % (spec["datasets"][d]["title"], labels[best], "; ".join(labels[c] for c in cover)))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = names[i], names[j]
            ra = {tuple(spec["configs"][c].get("ratio")) for c in best_of[a][1]}
            rb = {tuple(spec["configs"][c].get("ratio")) for c in best_of[b][1]}
            verdict = ("differ by more than seed noise (the 95%% sets share no ratio)" if not (ra & rb) else
                       "do not differ beyond seed noise (the 95%% sets share %d ratio%s)" % (len(ra & rb), "" if len(ra & rb) == 1 else "s"))
            notes.append("%s vs %s: the best ratios %s. This is the paper's claim (different datasets weight the information types "
                         "differently), tested here on these runs only." % (spec["datasets"][a]["title"], spec["datasets"][b]["title"], verdict))
    if len(names) < 2:
        notes.append("The between-dataset comparison needs two datasets with a best ratio; %d here." % len(names))
    return header, rows, notes


BUILDERS = {"metrics": build_metrics, "information": build_information, "planted": build_planted, "ratio": build_ratio}


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
                        ys = [statistics.fmean(res["rows"][k].get("%s_%s_nats" % (split, q), float("nan")) for res in good) for k in range(len(ep))]
                        ax.plot(ep, ys, style, label=split)
                    ax.set_title(QNAME[q])
                    if i >= 4:
                        ax.set_xlabel("epoch")
                axes[0][0].legend()
                d = ctx.dplan[ds]
                tag = " [synthetic data]" if d.get("synthetic") else ""
                fig.suptitle("%s: %s — %s (nats; CMI terms by the dv read-out), %d seeds, profile %s%s"
                             % (fname, ctx.spec["datasets"][ds]["title"], cfg, len(good), ctx.profile, tag))
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
            ax.set_ylabel("share (%) of Σ|q|, q in nats")
            ax.axhline(0, color="k", lw=0.5)
            ax.legend()
            ax.set_title("%s: %s — profile %s%s" % (fname, f["title"], ctx.profile, " [synthetic data]" if synth else ""))
            fig.tight_layout()
            p = os.path.join(out, "%s_shares.png" % fname)
            fig.savefig(p, dpi=90)
            plt.close(fig)
            made.append(os.path.basename(p))
    if getattr(ctx, "ratio", None):
        made += ratio_figure(ctx, out, plt, synth)
    return made


def ratio_figure(ctx, out, plt, synth):
    """T7 as triangles: each grid point (barycentric inv, spec, comp) coloured by its seed-mean metric, the
    official ratio as a star, the best point ringed."""
    import math as m
    ds_list = [d for d, v in ctx.ratio.items() if any(x is not None for x in v["mean"].values())]
    if not ds_list:
        return []
    fig, axes = plt.subplots(1, len(ds_list), figsize=(4.6 * len(ds_list), 4.4), squeeze=False)
    for ax, ds in zip(axes[0], ds_list):
        v = ctx.ratio[ds]
        xs, ys, cs, off = [], [], [], None
        for c, pt in v["points"].items():
            if pt is None or v["mean"][c] is None:
                continue
            tot = float(sum(pt)) or 1.0
            a, b, k = pt[0] / tot, pt[1] / tot, pt[2] / tot  # inv, spec, comp
            x, y = b + k / 2.0, k * m.sqrt(3) / 2.0
            if ctx.spec["configs"][c].get("ratio_official"):
                off = (x, y, v["mean"][c])
            xs.append(x), ys.append(y), cs.append(v["mean"][c])
            if c == v["best"]:
                ax.scatter([x], [y], s=700, facecolors="none", edgecolors="k", linewidths=2)
        sc = ax.scatter(xs, ys, c=cs, s=420, cmap="viridis" if v["high"] else "viridis_r", edgecolors="grey")
        if off:
            ax.scatter([off[0]], [off[1]], marker="*", s=220, c="red", label="official ratio")
            ax.legend(loc="upper right", fontsize=8)
        ax.plot([0, 1, 0.5, 0], [0, 0, m.sqrt(3) / 2, 0], "k-", lw=0.8)
        ax.text(-0.04, -0.07, "inv", ha="center"), ax.text(1.04, -0.07, "spec", ha="center"), ax.text(0.5, m.sqrt(3) / 2 + 0.04, "comp", ha="center")
        ax.set_xlim(-0.12, 1.12), ax.set_ylim(-0.12, 1.0), ax.set_aspect("equal"), ax.axis("off")
        fig.colorbar(sc, ax=ax, shrink=0.7, label="%s (%s is better)" % (v["metric"], "higher" if v["high"] else "lower"))
        ax.set_title(v["title"])
    fig.suptitle("T7: task metric over inv : spec : comp (seed means), profile %s%s" % (ctx.profile, " [synthetic data]" if synth else ""))
    fig.tight_layout()
    p = os.path.join(out, "F3_ratio.png")
    fig.savefig(p, dpi=90)
    plt.close(fig)
    return [os.path.basename(p)]


# ------------------------------------------------------------------ entry point
def aggregate(spec, profile, root, out, dplan, skipped, tables=None):
    plan.forget_hashes()
    runs, _, _ = plan.plan_runs(spec, profile, root, os.environ, tables)
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
    reported, empty = 0, []
    names = plan.profile_tables(spec, profile, tables)
    for tname in names:
        t = spec["tables"][tname]
        header, rows, notes = BUILDERS[t["kind"]](ctx, tname, t)
        notes = reading_notes(t, spec["profiles"][profile]["data"] == "synthetic") + notes
        title = "%s — %s" % (tname, t["title"])
        md = "### %s\n\n%s\n\n%s\n" % (title, md_table(header, rows), "\n".join("* " + n for n in notes))
        with open(os.path.join(out, tname + ".md"), "w") as f:
            f.write(md)
        with open(os.path.join(out, tname + ".tex"), "w") as f:
            f.write(tex_table(title, header, rows, notes))
        index += [md, ""]
        bad = [m for m in ctx.manifest.get(tname, []) if m["status"] != "ok"]
        reported += len(bad)
        if ctx.manifest.get(tname) is not None and not any(m["status"] == "ok" for m in ctx.manifest[tname]):
            empty.append(tname)
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
    manifest = {"profile": profile, "run_root": root, "aggregated_at_commit": plan.git_commit(),
                "data": {k: v for k, v in dplan.items()}, "tables": ctx.manifest, "figures": figs}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    print("[paper] wrote %s: %s, figures %s; %d run directories reported as missing/partial/other"
          % (out, ", ".join(n + ".md/.tex" for n in names), ", ".join(figs) or "none", reported))
    if empty:
        print("[paper] error: no complete run behind %s: the table%s written, but show%s no result"
              % (", ".join(empty), "s are" if len(empty) > 1 else " is", "" if len(empty) > 1 else "s"))
        return 1
    return 0
