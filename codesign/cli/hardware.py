"""``accel-sim ert``: the energy reference table of a hardware config, as the costing uses it."""

from __future__ import annotations

import csv
import json
import sys

from codesign.cli import EXIT_OK


def register(subparsers) -> None:
    ert = subparsers.add_parser(
        "ert", help="print a config's energy reference table (component, action, pJ, source)",
        description="Build the hardware of a config into its components and print each component's "
                    "actions with their energy (pJ per action), the unit of one action and the cited "
                    "source: the table the simulator's costing multiplies action counts by. Then the "
                    "sparse actions in force (the sparsity.handling shorthand expanded) and the area (mm²) "
                    "of each component.")
    ert.add_argument("config", help="hardware config YAML file (hw_configs/*.yaml)")
    ert.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field (dotted path), repeatable")
    output = ert.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the table as JSON")
    output.add_argument("--csv", action="store_true", help="print the table as CSV with a header")
    ert.set_defaults(func=_run_ert)


def _run_ert(args) -> int:
    from accel_sim import load_config
    from accel_sim.hardware.actions import expanded_actions
    from accel_sim.hardware.area import area_mm2
    from accel_sim.hardware.components import build_components

    config = load_config(args.config, args.overrides)
    rows = [{"component": c, "action": a, "energy_pj": pj, "per": unit, "source": src}
            for c, a, pj, unit, src in build_components(config).ert()]
    actions = [a.model_dump(mode="json") for a in expanded_actions(config)]
    area = area_mm2(config)
    if args.json:
        print(json.dumps({"config": config.name, "ert": rows, "sparse_actions": actions,
                          "area_mm2": area, "technology_nm": config.technology_nm}, indent=2))
        return EXIT_OK
    if args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        return EXIT_OK
    print(f"# energy reference table of {config.name} ({args.config})")
    widths = [max(len(r["component"]) for r in rows), max(len(r["action"]) for r in rows)]
    print(f"{'component':<{widths[0]}}  {'action':<{widths[1]}}  {'pJ':>10}  per / source")
    for r in rows:
        source = f"  [{r['source']}]" if r["source"] else ""
        print(f"{r['component']:<{widths[0]}}  {r['action']:<{widths[1]}}  {r['energy_pj']:>10.4g}  {r['per']}{source}")
    print(f"# sparse actions ({'sparsity.handling: ' + config.sparsity.handling if config.sparsity.handling != 'none' else 'sparsity.actions'}):"
          + ("" if actions else " none"))
    for a in actions:
        level = f" at {a['level']}" if a["level"] else ""
        print(f"  {a['action']} {a['target']} on zeros of {', '.join(a['condition_on'])}{level}")
    print(f"# area at {config.technology_nm:g} nm: total {area['total']:.4g} mm² ("
          + ", ".join(f"{k} {v:.4g}" for k, v in area.items() if k != "total") + ")")
    return EXIT_OK
