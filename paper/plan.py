"""paper/plan.py - the run plan of the paper sweeps, read from paper/experiments.json: which runs a
profile and its tables need (datasets, configs, seeds, flags, text protocol, data prefixes), the
coordination-ratio grid, and the identity of the data (content hashes) and of the code (git commit).

The layers of paper/ point one way, like the C code's (verify/check_layers.sh):
    plan.py        <- aggregate.py <- sweep.py        (planted.py, test_*.py on top)
plan.py imports neither; aggregate.py imports plan.py only; sweep.py imports both. The `layers` case of
paper/test_paper.py checks this on the import statements.
"""

import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SPEC = os.path.join(HERE, "experiments.json")

def load_spec(path=None):
    path = path or os.environ.get("PAPER_SPEC") or SPEC
    with open(path) as f:
        spec = json.load(f)
    for t in spec["tables"].values():
        if t["kind"] == "ratio":
            t["groups"] = expand_ratio_table(spec, t, t["grid"])
    return spec


def ratio_points(grid):
    """the simplex grid (i, j, k), i + j + k = grid, in a fixed order (inv-heavy first)."""
    return [(i, j, grid - i - j) for i in range(grid, -1, -1) for j in range(grid - i, -1, -1)]


def ratio_coefficients(c2, point, grid):
    """loss_mi_coefficient2 with inv : (spec_T + spec_A + spec_V) : comp = point, at the total weight W of those
    five terms in c2 and with the specific weight split in c2's proportions (equal thirds when c2 has none)."""
    v = [float(x) for x in c2.split("-")]
    W = v[3] + v[4] + v[5] + v[6] + v[7]
    sp = v[4] + v[5] + v[6]
    prop = [x / sp for x in v[4:7]] if sp > 0 else [1 / 3.0] * 3
    i, j, k = point
    spec_w = W * j / grid
    new = v[:3] + [W * i / grid] + [spec_w * q for q in prop] + [W * k / grid]
    return "-".join("%.10g" % x for x in new), W


def expand_ratio_table(spec, t, grid):
    """registers the ratio table's configs (one per grid point and base; the official ratio is the base
    config itself) and returns its groups, one per dataset."""
    groups = []
    for ds in t["datasets"]:
        base = t["bases"][ds]
        bc = spec["configs"][base]
        c2 = bc.get("set", {}).get("loss_mi_coefficient2") or spec["flagsets"][bc["base"]]["flags"]["loss_mi_coefficient2"]
        rows = []
        for pt in ratio_points(grid):
            coef, W = ratio_coefficients(c2, pt, grid)
            name = "ratio_%s_%s" % ("".join(str(x) for x in pt), base)
            setf = dict(bc.get("set", {}))
            setf["loss_mi_coefficient2"] = coef
            spec["configs"][name] = {"base": bc["base"], "set": setf, "ratio": list(pt), "ratio_total": W,
                                     "label": "inv:spec:comp = %d:%d:%d (thirds of W = %g)" % (pt + (W,))}
            rows.append({"config": name})
        v = [float(x) for x in c2.split("-")]
        W = v[3] + v[4] + v[5] + v[6] + v[7]
        off = [v[3] / W * grid, (v[4] + v[5] + v[6]) / W * grid, v[7] / W * grid] if W > 0 else [0, 0, 0]
        spec["configs"][base] = dict(bc, ratio=off, ratio_total=W, ratio_official=True)
        rows.append({"config": base, "label": "official ratio %.2f:%.2f:%.2f (%s)" % (off[0], off[1], off[2], bc["label"])})
        groups.append({"dataset": ds, "rows": rows})
    return groups


def table_groups(spec, profile, tname):
    """a table's groups in this profile (a profile may restrict ratio tables to ratio_datasets)."""
    t, prof = spec["tables"][tname], spec["profiles"][profile]
    if t["kind"] != "ratio":
        return t["groups"]
    groups = t["groups"] if prof.get("ratio_grid", t["grid"]) == t["grid"] else expand_ratio_table(spec, t, prof["ratio_grid"])
    only = prof.get("ratio_datasets")
    return [g for g in groups if only is None or g["dataset"] in only]


def profile_tables(spec, profile, tables=None):
    """the tables a sweep covers: those asked for, else the profile's list, else all."""
    return tables or spec["profiles"][profile].get("tables") or list(spec["tables"])


# ------------------------------------------------------------------ planning
class Run:
    def __init__(self, dataset, config, seed, data, flags, root, text="features", bert=None):
        self.dataset, self.config, self.seed, self.data, self.flags = dataset, config, seed, data, flags
        self.text = text  # text protocol (experiments.json text_protocols); bert runs get --bert DIR
        self.extra = ["--bert", bert] if text == "bert" else []
        self.rel = os.path.join("runs", dataset, config, "seed%d" % seed)
        self.dir = os.path.join(root, self.rel)
        self.id = "%s-%s-seed%d" % (dataset, config, seed)

    def argv(self, binary):
        return train_argv(binary, self.data, self.dir, self.flags, self.extra)

    def task(self):
        return {"id": self.id, "dir": self.dir, "data": self.data, "flags": self.flags, "extra": self.extra}


def train_argv(binary, data, rundir, flags, extra=()):
    """the mimrl train command of a run: its flags (checked against config.json by aggregate.py) and extra
    arguments that are not configuration (the BERT directory, which may sit elsewhere on another machine)."""
    a = [binary, "train", "--data", data, "--out", rundir] + list(extra)
    for k, v in flags.items():
        if v is True:
            a.append("--" + k)
        elif v is not False:
            a += ["--" + k, str(v)]
    return a


def config_flags(spec, profile, config, seed):
    c = spec["configs"][config]
    flags = dict(spec["flagsets"][c["base"]]["flags"])
    flags.update(c.get("set", {}))
    flags.update(spec["profiles"][profile].get("flags", {}))
    flags.update(spec["profiles"][profile].get("flags_per_flagset", {}).get(c["base"], {}))
    flags["seed"] = str(seed)
    return flags


def config_seeds(spec, profile, config):
    """a profile's seeds (smoke, pilot) override everything; else the flagset's (the notebook cell's); else the default."""
    prof = spec["profiles"][profile]
    if "seeds" in prof:
        return prof["seeds"]
    return spec["flagsets"][spec["configs"][config]["base"]].get("seeds", spec["seeds"])


def selected_items(spec, profile, tables=None):
    """(dataset, config) pairs behind the selected tables and figures, in declaration order."""
    pairs = []
    names = profile_tables(spec, profile, tables)
    for t in names:
        for g in table_groups(spec, profile, t):
            for r in g["rows"]:
                pairs.append((g["dataset"], r["config"]))
    for f in spec["figures"].values():
        if f.get("table") and (tables is None or f["table"] in names):
            continue
        if tables is None and spec["profiles"][profile].get("tables") is None:
            pairs += [(r["dataset"], r["config"]) for r in f.get("runs", [])]
    out = []
    for p in pairs:
        if p not in out:
            out.append(p)
    return out


def data_plan(spec, profile, root, env):
    """dataset -> {"prefix", "synth": argv or None, "describe", "synthetic": bool} or {"skip": reason}."""
    prof = spec["profiles"][profile]
    plan = {}
    for name, ds in spec["datasets"].items():
        synthetic = prof["data"] == "synthetic" or ds.get("always_synthetic")
        if synthetic and "like" not in ds:
            plan[name] = {"skip": "no synthetic shape for %s (mimrl synth --like has mosi, mosei, avec only); "
                                  "profile %s uses synthetic data" % (ds["title"], profile)}
        elif synthetic:
            args = ["--like", ds["like"]] + prof.get("synth_args", []) + ds.get("synth_args", [])
            prefix = os.path.join(root, "data", name)
            plan[name] = {"prefix": prefix, "synth": args, "synthetic": True,
                          "describe": "synthetic, NOT the paper's data: mimrl synth " + " ".join(args)}
        else:
            prefix = env.get(ds["env"], "")
            if not prefix:
                plan[name] = {"skip": "%s not set (give the converted prefix, e.g. %s=data/%s)" % (ds["env"], ds["env"], name)}
            elif not os.path.exists(prefix + "_train.npz"):
                plan[name] = {"skip": "%s=%s but %s_train.npz does not exist" % (ds["env"], prefix, prefix)}
            else:
                plan[name] = {"prefix": prefix, "synth": None, "synthetic": False,
                              "describe": "%s (%s=%s)" % (ds["title"], ds["env"], prefix)}
    return plan


def bert_dir(spec, profile, root, env):
    """the BERT directory of a bert-protocol profile: one made by mimrl bert-init under the run root
    (profiles with bert_init), else PAPER_BERT; None for the features protocol."""
    prof = spec["profiles"][profile]
    if prof.get("text", "features") != "bert":
        return None
    if prof.get("bert_init"):
        return os.path.join(root, "bert")
    return env.get("PAPER_BERT", "")


def plan_runs(spec, profile, root, env, tables=None):
    prof = spec["profiles"][profile]
    dplan = data_plan(spec, profile, root, env)
    text, bert = prof.get("text", "features"), bert_dir(spec, profile, root, env)
    runs, skipped = [], []
    for ds, cfg in selected_items(spec, profile, tables):
        if "skip" in dplan[ds]:
            if ds not in [s[0] for s in skipped]:
                skipped.append((ds, dplan[ds]["skip"]))
            continue
        for s in config_seeds(spec, profile, cfg):
            runs.append(Run(ds, cfg, s, dplan[ds]["prefix"], config_flags(spec, profile, cfg, s), root, text,
                            os.path.abspath(bert) if bert else None))
    return runs, dplan, skipped


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


_HASHES = {}


def forget_hashes():
    """drops the cached data hashes, so that the next data_hashes() reads the files again (before aggregation,
    which may run in the process that planned the runs before the data was written)."""
    _HASHES.clear()


def data_hashes(prefix):
    """{file name: sha256} of a data prefix's three splits (cached per process; a missing file hashes to None).
    Recorded in each finished run's provenance.json and checked before a run is reused or aggregated, so a
    re-converted or truncated file under the same name is noticed."""
    import hashlib
    if prefix not in _HASHES:
        out = {}
        for split in ("train", "valid", "test"):
            path = "%s_%s.npz" % (prefix, split)
            try:
                h = hashlib.sha256()
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                out[os.path.basename(path)] = h.hexdigest()
            except OSError:
                out[os.path.basename(path)] = None
        _HASHES[prefix] = out
    return _HASHES[prefix]


def data_changed(run_dir, prefix):
    """the data files whose content differs from what the finished run in run_dir was trained on ([] when the
    same, or when the run predates the record)."""
    prov = read_json(os.path.join(run_dir, "provenance.json")) or {}
    then = prov.get("data_sha256")
    if not then:
        return []
    now = data_hashes(prefix)
    return [f for f in sorted(then) if now.get(f) != then[f]]


def git_commit():
    try:
        c = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        d = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10)
        return c.stdout.strip() + ("+dirty" if d.stdout.strip() else "") if c.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
