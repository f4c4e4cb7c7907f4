#!/usr/bin/env python3
"""Generate the hand-written test exports under tests/data/.

Everything here is invented (names, numbers, help texts). Only the *shape* follows the real
City of Data export that the importer reads (see ../shared/data/README.md): the same
directory layout, file naming, key sets, key order, value types, nulls and formatting
(indent 2, raw UTF-8, a trailing newline except on the manifests, FLT_MAX written as
3.4028234663852886e38).

Outputs (all relative to this script's directory):
  export-mini/      the small export (3 archetypes, 5 categories, 7 powersets, 30 powers)
  export-mini-v2/   the same export after an update: one power removed, one added, one
                    changed, and a new key ("pvp_mode": null) in every power
  builds-mini.json  4 user builds that reference export-mini
  bad/<case>/       the bad-input corpus, plus bad/README.md (expected errors, generated so
                    that byte offsets and line numbers stay right)

Usage:  python3 gen-export-mini.py            regenerate everything (deletes the old output)
        python3 gen-export-mini.py --only mini|v2|bad|builds
"""

import argparse
import copy
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REVISION = "mini-20250101_0001"
FLT_MAX = 3.4028234663852886e38  # the real export writes this as 3.4028234663852886e38
LEVELS = 105  # per-level arrays in the real export have 105 entries

# ---------------------------------------------------------------------------------------------
# JSON writing, formatted like the real export
# ---------------------------------------------------------------------------------------------


def check_floats(obj):
    # The exporter prints exponents without '+' (3.4028234663852886e38) where Python writes
    # e+38. Only FLT_MAX may need an exponent in our data; refuse anything else so that the
    # textual fix-up in dumps() stays a plain replacement.
    if isinstance(obj, float):
        assert obj == FLT_MAX or "e" not in repr(obj), repr(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            check_floats(v)
    elif isinstance(obj, list):
        for v in obj:
            check_floats(v)


def dumps(obj):
    check_floats(obj)
    s = json.dumps(obj, indent=2, ensure_ascii=False)
    return s.replace("3.4028234663852886e+38", "3.4028234663852886e38")


def write_text(path, text, newline=True):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = text.encode("utf-8")
    if newline:
        data += b"\n"
    with open(path, "wb") as f:
        f.write(data)


def write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------------------------------------
# Archetypes and level tables
# ---------------------------------------------------------------------------------------------

DAMAGE = ["smashing", "lethal", "fire", "cold", "energy", "negative_energy", "psionic", "heal",
          "special", "toxic", "radiation", "electrical", "sonic", "quantum", "unique1",
          "unique2", "unique3"]
DEFENSE = ["ranged_attack", "melee_attack", "aoe_attack", "smashing_attack", "lethal_attack",
           "fire_attack", "cold_attack", "energy_attack", "negative_energy_attack",
           "psionic_attack", "toxic_attack", "radiation_attack", "electrical_attack",
           "sonic_attack", "quantum_attack", "ricochet_attack", "metaphysical_attack",
           "incarnate_attack"]
ELUDE = [d.replace("_attack", "_elude") for d in DEFENSE]
ATTRIBS = ["damage_type", "hit_points", "absorb", "endurance", "insight", "rage", "to_hit",
           "defense_type", "defense", "speed_running", "speed_flying", "speed_swimming",
           "speed_jumping", "jump_height", "movement_control", "movement_friction", "stealth",
           "stealth_radius", "stealth_radius_player", "perception_radius", "regeneration",
           "recovery", "insight_recovery", "threat_level", "taunt", "placate", "confused",
           "afraid", "terrorized", "held", "immobilized", "stunned", "sleep", "fly",
           "jump_pack", "teleport", "untouchable", "intangible", "only_affects_self",
           "experience_gain", "influence_gain", "prestige_gain", "null_bool", "knock_up",
           "knock_back", "repel", "accuracy", "radius", "arc", "range", "time_to_activate",
           "time_to_root", "recharge_time", "interrupt_time", "endurance_discount",
           "insight_discount", "meter", "elusivity", "elusivity_base", "gravity"]
# the *_max dicts have no "held" and no "elusivity_base" (58 keys instead of 60)
MAX_ATTRIBS = [a for a in ATTRIBS if a not in ("held", "elusivity_base")]
MEZ = ("confused", "afraid", "terrorized", "held", "immobilized", "stunned", "sleep",
       "untouchable", "intangible", "only_affects_self")


def r4(x):
    return round(float(x), 4)


def scalar_attribs(kind, k):
    """One of the 60-key scalar dicts. kind picks a rule; k (~1.0) varies it per archetype."""
    def val(a):
        if kind == "base":
            table = {"to_hit": 0.7, "speed_running": 1.0, "speed_flying": 1.4,
                     "speed_swimming": 0.6, "speed_jumping": 1.0, "jump_height": 1.0,
                     "movement_control": 1.0, "movement_friction": 1.0,
                     "perception_radius": 480.0 * k, "regeneration": r4(0.2 * k),
                     "recovery": 1.0, "threat_level": r4(k), "knock_up": 1.0,
                     "knock_back": 1.0, "repel": 1.0, "accuracy": 1.0, "radius": 1.0,
                     "arc": 1.0, "range": 1.0, "time_to_activate": 1.0,
                     "time_to_root": 1.0, "recharge_time": 1.0, "interrupt_time": 1.0,
                     "endurance_discount": 1.0, "elusivity_base": 1.0}
            if a in MEZ:
                return -1.0
            return table.get(a, 0.0)
        if kind == "min":
            if a in ("to_hit", "defense", "stealth", "experience_gain", "influence_gain"):
                return -1.0
            if a in ("speed_running", "speed_flying", "speed_swimming"):
                return 0.1
            if a in ("stealth_radius", "stealth_radius_player"):
                return -150.0
            if a == "gravity":
                return -0.9
            return 0.0
        if kind == "strength_min":
            if a.startswith("insight") or a in ("experience_gain", "influence_gain",
                                                "prestige_gain", "teleport", "repel",
                                                "accuracy"):
                return 0.0
            if a in ("endurance", "rage", "knock_up", "knock_back", "radius", "arc"):
                return 0.02
            if a in ("range", "time_to_activate", "time_to_root", "recharge_time",
                     "interrupt_time"):
                return 0.2
            return 0.1
        if kind == "resistance_min":
            if a.startswith("insight") or a in ("experience_gain", "influence_gain",
                                                "prestige_gain", "gravity"):
                return 0.0
            if a in ("taunt", "placate") or a in MEZ[:7]:
                return -0.75
            return -2.5
        if kind == "dim_str":
            if a.startswith("insight") or a in ("experience_gain", "influence_gain",
                                                "prestige_gain", "elusivity_base"):
                return 0.0
            if a in ("teleport", "gravity"):
                return 1.0
            return 0.3
        if kind == "dim_cur":
            table = {"endurance": 0.02, "rage": 0.02, "to_hit": 1.5, "defense": r4(2.5 * k),
                     "speed_running": 0.2, "speed_flying": 0.2, "speed_jumping": 0.2,
                     "jump_height": 0.2, "regeneration": 0.05}
            if a.startswith("insight") or a in ("experience_gain", "influence_gain",
                                                "prestige_gain", "elusivity_base"):
                return 0.0
            if a in ("hit_points", "absorb", "movement_control", "movement_friction",
                     "threat_level", "teleport", "untouchable", "intangible",
                     "only_affects_self", "radius", "arc", "range", "time_to_activate",
                     "time_to_root", "meter", "gravity"):
                return 1.0
            return table.get(a, 0.3)
        if kind == "dim_res":
            if a.startswith("insight") or a in ("experience_gain", "influence_gain",
                                                "prestige_gain", "elusivity_base"):
                return 0.0
            if a in ("teleport", "untouchable", "intangible", "only_affects_self",
                     "gravity"):
                return 1.0
            return 0.3
        if kind == "zero":
            return 0.0
        raise ValueError(kind)

    def sub(keys, a):
        if kind == "base" and a == "elusivity":
            return {x: 1.0 for x in keys}
        if kind == "dim_cur" and a == "defense_type":
            return {x: r4(2.5 * k) for x in keys}
        if kind == "dim_res" and a == "damage_type":
            return {x: (1.0 if x == "heal" else 0.9 if x == "special" else
                        0.3 if x.startswith("unique") else r4(1.1 * k)) for x in keys}
        if a == "elusivity" and kind in ("dim_str", "dim_cur", "dim_res", "strength_min"):
            return {x: 0.0 for x in keys}
        if a == "defense_type" and kind in ("min", "resistance_min"):
            return {x: val("defense") for x in keys}
        return {x: val(a if a != "damage_type" else "hit_points")
                if kind != "base" else 0.0 for x in keys}

    out = {}
    for a in ATTRIBS:
        if a == "damage_type":
            out[a] = sub(DAMAGE, a)
        elif a == "defense_type":
            out[a] = sub(DEFENSE, a)
        elif a == "elusivity":
            out[a] = sub(ELUDE, a)
        else:
            out[a] = float(val(a))
    return out


def curve(start, step, n=LEVELS, growth=0.0):
    return [r4(start + step * i + growth * i * i) for i in range(n)]


def max_attribs(kind, k, npc):
    """One of the 58-key per-level dicts (lists of 105 floats, some deliberately empty)."""
    empty = {"insight", "insight_recovery", "prestige_gain", "insight_discount"}
    if kind in ("strength_max", "resistance_max"):
        empty |= {"experience_gain", "influence_gain"}
    if npc:
        empty |= {"gravity"}
        if kind in ("max", "max_max"):
            empty |= {"experience_gain", "influence_gain"}
    scale = {"max": 1.0, "max_max": 1.6, "strength_max": 4.0, "resistance_max": 0.85}[kind]

    def lst(a):
        if a in empty:
            return []
        if a == "hit_points":
            return curve(90.0 * k * scale, 11.5 * k * scale, growth=0.01)
        if a == "endurance":
            return [100.0] * LEVELS
        if a == "rage":
            return curve(150.0, 3.0)
        if a == "absorb":
            return [0.0] * LEVELS
        if a == "defense":
            # the real export has 210 entries here, twice the level count
            return curve(0.9 * scale, 0.04, n=2 * LEVELS)
        if a in ("to_hit",):
            return curve(0.9 * scale, 0.02)
        if a in ("speed_running", "speed_flying", "speed_jumping", "jump_height"):
            return [r4(3.0 * scale)] * LEVELS
        if a == "perception_radius":
            return [r4(1000.0 * scale)] * LEVELS
        if a in ("regeneration", "recovery"):
            return [r4(18.0 * scale)] * LEVELS
        return [r4(scale)] * LEVELS

    out = {}
    for a in MAX_ATTRIBS:
        if a == "damage_type":
            out[a] = {x: curve(90.0 * k * scale, 11.5 * k * scale, growth=0.01)
                      if x != "heal" else [r4(0.95 * scale)] * LEVELS for x in DAMAGE}
        elif a == "defense_type":
            out[a] = {x: curve(0.9 * scale, 0.04) for x in DEFENSE}
        elif a == "elusivity":
            out[a] = {x: [] for x in ELUDE}
        else:
            out[a] = lst(a)
    return out


# name -> (display name as the archetype files spell it, generator)
NAMED_TABLES = {
    "default": ("default", lambda k: [1.0] * LEVELS),
    "melee_buff_def": ("Melee_Buff_Def", lambda k: [r4(0.06 * k)] * LEVELS),
    "melee_damage": ("Melee_Damage", lambda k: [-r4((8.0 + 0.95 * i + 0.004 * i * i) * k)
                                                for i in range(LEVELS)]),
    "melee_ones": ("Melee_Ones", lambda k: [1.0] * LEVELS),
    "melee_res_dmg": ("Melee_Res_Dmg", lambda k: [r4(0.065 * k)] * LEVELS),
    "melee_speedrunning": ("Melee_SpeedRunning", lambda k: [3.2] * LEVELS),
    "ranged_buff_dmg": ("Ranged_Buff_Dmg", lambda k: [r4(0.08 * k)] * LEVELS),
    "ranged_damage": ("Ranged_Damage", lambda k: [-r4((7.6 + 0.9 * i + 0.004 * i * i) * k)
                                                  for i in range(LEVELS)]),
    "ranged_heal": ("Ranged_Heal", lambda k: curve(8.5 * k, 0.9 * k)),
    "ranged_ones": ("Ranged_Ones", lambda k: [1.0] * LEVELS),
    "ranged_slow": ("Ranged_Slow", lambda k: [-0.9] * LEVELS),
    "ranged_stun": ("Ranged_Stun", lambda k: curve(0.75, 0.007)),
}

ARCHETYPES = {
    "vanguard": dict(
        display_name="Vanguard", default_rank="VR_NONE", icon="archetypeicon_vanguard.png",
        display_help="The Vanguard wades into the thick of a fight wearing plates of its own "
                     "making. It hits hard up close and shrugs off what comes back, but it "
                     "has little to offer at range.",
        display_short_help="Armored melee striker.",
        restrictions=[], level_up_respecs=[],
        primary_category="Vanguard_MELEE", secondary_category="Vanguard_Guard",
        deep_sleep_resistance=0.1, is_villain=False, k=1.1, perception=500.0, npc=False,
        extra_tables={}),
    "warden": dict(
        display_name="Warden", default_rank="VR_NONE", icon="archetypeicon_warden.png",
        display_help="Wardens keep a team standing: they sting foes from a distance with "
                     "static and ember, and they mend allies between volleys.",
        display_short_help="Ranged damage and team support.",
        restrictions=["NoPraetoria", "NoTutorial", "Hero"], level_up_respecs=[24],
        primary_category="Warden_RANGED", secondary_category="Warden_Support",
        deep_sleep_resistance=0.1, is_villain=False, k=0.9, perception=550.0, npc=False,
        # one table shorter than the others, like the real "at_uniqueness" (100 entries)
        extra_tables={"at_uniqueness": ("AT_Uniqueness", [r4(1.0 + 0.01 * i)
                                                          for i in range(100)])}),
    "minion_drone": dict(
        display_name="Drone", default_rank="VR_PET", icon="archetypeicon_warden.png",
        display_help="A small helper drone summoned by Wardens.",
        display_short_help="Pet.",
        restrictions=[], level_up_respecs=[],
        # NPC archetypes name the categories with a different case than the player one
        primary_category="Warden_Ranged", secondary_category="Warden_Support",
        deep_sleep_resistance=1.0, is_villain=True, k=0.6, perception=45.0, npc=True,
        extra_tables={}),
}
PLAYER_ATS = ["vanguard", "warden"]
NPC_ATS = ["boss_colossus", "minion_drone"]  # boss_colossus has no file (like the real index)


def archetype_tables(at):
    spec = ARCHETYPES[at]
    tables = {}
    names = NAMED_TABLES
    if spec["npc"]:
        names = {k: v for k, v in NAMED_TABLES.items()
                 if k not in ("melee_speedrunning", "ranged_slow")}
    for key, (disp, fn) in names.items():
        tables[key] = (disp, fn(spec["k"]))
    for key, (disp, vals) in spec["extra_tables"].items():
        tables[key] = (disp, vals)
    return dict(sorted(tables.items()))


def make_archetype(at):
    s = ARCHETYPES[at]
    k = s["k"]
    out = {
        "name": at,
        "display_name": s["display_name"],
        "default_rank": s["default_rank"],
        "icon": s["icon"],
        "display_help": s["display_help"],
        "display_short_help": s["display_short_help"],
        "class_requires": "",
        "restrictions": s["restrictions"],
        "level_up_respecs": s["level_up_respecs"],
        "primary_category": s["primary_category"],
        "secondary_category": s["secondary_category"],
        "power_pool_category": "Pool",
        "epic_pool_category": None,
        "defiant_scale": 1.0,
        "deep_sleep_resistance": s["deep_sleep_resistance"],
        "off_defiant_hit_points_attrib": 0,
        "is_villain": s["is_villain"],
        "class_key": "@class_" + at,
        "attrib_base": scalar_attribs("base", k),
        "attrib_min": scalar_attribs("min", k),
        "attrib_strength_min": scalar_attribs("strength_min", k),
        "attrib_resistance_min": scalar_attribs("resistance_min", k),
        "attrib_max": max_attribs("max", k, s["npc"]),
        "attrib_max_max": max_attribs("max_max", k, s["npc"]),
        "attrib_strength_max": max_attribs("strength_max", k, s["npc"]),
        "attrib_resistance_max": max_attribs("resistance_max", k, s["npc"]),
        "attrib_diminishing_str": [scalar_attribs("zero" if s["npc"] else "dim_str", k)],
        "attrib_diminishing_cur": [scalar_attribs("zero" if s["npc"] else "dim_cur", k)],
        "attrib_diminishing_res": [scalar_attribs("zero" if s["npc"] else "dim_res", k)],
        "named_tables": {key: {"name": disp, "values": vals}
                         for key, (disp, vals) in archetype_tables(at).items()},
    }
    return out


def make_tables_file(at):
    s = ARCHETYPES[at]
    out = {}
    if not s["npc"]:  # NPC table files have no category keys in the real export
        out["primary_category"] = s["primary_category"]
        out["secondary_category"] = s["secondary_category"]
    out["base_perception"] = s["perception"]
    out["named_tables"] = {key: vals for key, (disp, vals) in archetype_tables(at).items()}
    return out


# ---------------------------------------------------------------------------------------------
# Powers
# ---------------------------------------------------------------------------------------------

# category dir -> (name as in the category index, display name, archetypes)
CATEGORIES = {
    "vanguard_melee": ("Vanguard_Melee", "Melee", ["vanguard"]),
    "vanguard_guard": ("Vanguard_Guard", "Guard", ["vanguard"]),
    "warden_ranged": ("Warden_Ranged", "Ranged", ["warden"]),
    # a category naming an archetype that the export does not contain (real: Incarnate)
    "warden_support": ("Warden_Support", "Support", ["boss_colossus", "warden"]),
    "pool": ("Pool", "Pool", ["vanguard", "warden"]),
}
# (category dir, powerset dir) -> powerset fields
POWERSETS = {
    ("vanguard_melee", "tidal_blade"): dict(
        name="Tidal_Blade", display_name="Tidal Blade",
        help="Shape sea water into a keen edge. Tidal Blade attacks deal Cold damage and can "
             "knock foes off balance.",
        short="Tidal Blade", icon="tidalblade_set.png"),
    ("vanguard_melee", "ember_fists"): dict(
        name="Ember_Fists", display_name="Ember Fists",
        help="Wrap your fists in smoldering embers and pummel foes with Fire and Smashing "
             "damage.",
        short="Ember Fists", icon="emberfists_set.png"),
    ("vanguard_guard", "bastion_plating"): dict(
        name="Bastion_Plating", display_name="Bastion Plating",
        help="Grow layered plating that turns aside blows and keeps you on your feet.",
        short="Bastion Plating", icon="bastionplating_set.png"),
    ("warden_ranged", "static_bolts"): dict(
        name="Static_Bolts", display_name="Static Bolts",
        help="Hurl crackling bolts of static that drain a foe's strength and jump between "
             "targets.",
        short="Static Bolts", icon="staticbolts_set.png"),
    # same powerset name as vanguard_melee.ember_fists, but a different display name (the
    # real export has such pairs, e.g. name Gadgets shown as "Devices")
    ("warden_ranged", "ember_fists"): dict(
        name="Ember_Fists", display_name="Ember Volley",
        help="Toss handfuls of embers at range. Shares its origin with the Vanguard's Ember "
             "Fists.",
        short="Ember Volley", icon="embervolley_set.png"),
    ("warden_support", "mending_tides"): dict(
        name="Mending_Tides", display_name="Mending Tides",
        help="Call soothing currents to heal allies and slow foes.",
        short="Mending Tides", icon="mendingtides_set.png"),
    ("pool", "skyrunning"): dict(
        name="Skyrunning", display_name="Skyrunning",
        help="Run on the wind itself: short bursts of speed and long glides between rooftops.",
        short="Skyrunning", icon="skyrunning_set.png",
        requires="char>level >= 4"),
}

DEFAULT_BOOST_INFO = {
    "slot_requires": "", "ignores_level_differences": False, "bonuses_ignore_exemplar": False,
    "combinable": True, "tradeable": True, "account_bound": False, "boostable": False,
    "attuned": False, "catalyzes_to": None, "max_level": 50, "min_slot_level": -3,
    "min_bonus_level": 1, "computed_name": None, "aspects": [], "superior_scales": False,
    "boostset_name": None, "global_bonuses": None, "is_proc": False, "is_unique": False,
    "restricted_ats": None, "unique_group": None, "only_at_50": False, "boost_type": None,
    "icon": None,
}

DMG_FLAGS = ["ResistMagnitude (7)", "CombatModMagnitude (9)"]
BUFF_FLAGS = ["IgnoreResistance (5)", "CombatModMagnitude (9)"]
SELF_FLAGS = ["IgnoreStrength (4)", "IgnoreResistance (5)", "CombatModMagnitude (9)"]


def messages(attacker=None, victim=None, floater=None):
    return {"display_attacker_hit": attacker, "display_victim_hit": victim,
            "display_float": floater, "display_defense_float": None}


def template(attribs, aspect, target, table, scale, duration="0 seconds", ttype="Magnitude",
             application_type="OnTick", magnitude=1.0, delay=0.0, duration_expression="",
             magnitude_expression="", application_period=0.0, tick_chance=1.0,
             caster_stack="Individual", stack="Stack", stack_limit=2, stack_key=None,
             cancel_events=None, flags=None, mode_name=None, msgs=None,
             suppress_events=None, params=None, fx=None):
    return {
        "attribs": list(attribs), "type": ttype, "application_type": application_type,
        "aspect": aspect, "target": target, "table": table, "scale": float(scale),
        "duration": duration, "magnitude": float(magnitude), "delay": float(delay),
        "duration_expression": duration_expression,
        "magnitude_expression": magnitude_expression,
        "application_period": float(application_period), "tick_chance": float(tick_chance),
        "tick_mag_multiplier": 1.0, "tick_mag_additive": 0.0, "jit_requires": "",
        "caster_stack": caster_stack, "stack": stack, "stack_limit": stack_limit,
        "stack_key": stack_key, "cancel_events": cancel_events or [],
        "boost_mod_allowed": "Science_Boost", "flags": flags or list(BUFF_FLAGS),
        "mode_name": mode_name, "target_info": None, "messages": msgs,
        "suppress_events": suppress_events or [], "required_events": [], "params": params,
        "fx": fx,
    }


def effect(templates, tags=None, chance=1.0, requires="", flags=None, eval_flags=0,
           children=None, is_pvp="EITHER", ppm=0.0, radius_outer=-1.0):
    return {
        "tags": tags or [], "chance": float(chance), "ppm": float(ppm), "delay": 0.0,
        "radius_inner": -1.0, "radius_outer": float(radius_outer),
        "requires_expression": requires, "flags": flags or [], "eval_flags": eval_flags,
        "child_effects": children or [], "templates": templates, "is_pvp": is_pvp,
    }


def dmg_template(kind, table, scale, verb="strikes"):
    return template([kind + "_Dmg"], "Absolute", "AnyAffected", table, scale,
                    stack="Stack", flags=list(DMG_FLAGS),
                    msgs=messages(
                        "Your {PowerName} %s {PlayerDest} for {Damage} points of %s damage."
                        % (verb, kind.replace("_", " ")),
                        "{PlayerSource}'s {PowerName} %s you for {Damage} points of %s damage."
                        % (verb, kind.replace("_", " "))))


def attack_effects(kinds, table, scale, extra=None, crit_tag=None, tags=None):
    """PvE and PvP damage effects (like the real split on target>enttype)."""
    pve = [dmg_template(k, table, r4(scale * w)) for k, w in kinds]
    pvp = [dmg_template(k, table, r4(scale * w * 0.8)) for k, w in kinds]
    effs = [effect(pve, tags=tags, requires="target>enttype eq 'critter'", is_pvp="PVE_ONLY"),
            effect(pvp, tags=tags, requires="target>enttype eq 'player'", is_pvp="PVP_ONLY")]
    if crit_tag:
        # an effect with no templates of its own and a chance-gated child, two levels deep
        inner = effect([dmg_template(kinds[0][0], table, r4(scale * 0.5), "crits")],
                       tags=[crit_tag], flags=["HitRollSuccess"])
        outer = effect([dmg_template(kinds[0][0], table, r4(scale * 0.5), "crits")],
                       tags=[crit_tag], chance=0.5, children=[inner],
                       requires="source>kMeter >= 0.5")
        effs.append(effect([], tags=[crit_tag], chance=0.1, children=[outer],
                           flags=["MainTargetOnly"], is_pvp="PVE_ONLY"))
    if extra:
        effs.extend(extra)
    return effs


def fx_block(seed, source_file=None, projectile=FLT_MAX, attack_fx=None, hit_fx=None,
             continuing=None, activation_fx=None):
    b = [20 + (seed * 7) % 90, 100 + (seed * 13) % 200]
    return {
        "source_file": source_file, "attack_bits": b + [300 + seed],
        "block_bits": [53] if seed % 3 == 0 else [], "wind_up_bits": [],
        "hit_bits": [49, 689] if attack_fx else [], "death_bits": [],
        "activation_bits": b if activation_fx else [], "deactivation_bits": [],
        "initial_attack_bits": b + [300 + seed, 194], "continuing_bits": [],
        "conditional_bits": [], "activation_fx": activation_fx, "deactivation_fx": None,
        "attack_fx": attack_fx, "secondary_attack_fx": None, "hit_fx": hit_fx,
        "wind_up_fx": None, "block_fx": None, "death_fx": None, "initial_attack_fx": attack_fx,
        "continuing_fx": continuing or [], "conditional_fx": [], "mode_bits": [20],
        "frames_before_hit": 15 + seed % 12, "frames_before_secondary_hit": 0,
        "delayed_hit": projectile != FLT_MAX, "frames_attack": 35 + seed % 20,
        "initial_frames_before_hit": 15 + seed % 12,
        "initial_attack_fx_frame_delay": 0, "projectile_speed": float(projectile),
        "secondary_projectile_speed": 0.0, "initial_frames_before_block": 0,
        "ignore_attack_time_errors": None, "frames_before_block": 0, "fx_important": False,
    }


def custom_fx(seed, token, palette, display_name=None):
    return {"display_name": display_name, "token": token, "alt_themes": [],
            "category": None, "palette_name": palette,
            "fx": fx_block(seed, "MENU/POWERS/ANIMFX/MINI_CUSTOM_%d.PFX" % seed,
                           attack_fx="MINI/CUSTOM/THEME_%d.FX" % seed)}


def attribs_of(effs, acc):
    for e in effs:
        for t in e["templates"]:
            for a in t["attribs"]:
                if a not in acc:
                    acc.append(a)
        attribs_of(e["child_effects"], acc)
    return acc


# Each spec names the power (as in its full_name) and the fields that differ from the
# defaults in make_power(). Keep the list readable: this *is* the hand-written data.
MELEE_BOOSTS = ["Reduce Endurance Cost", "Enhance Recharge Speed", "Enhance Damage",
                "Enhance Accuracy"]
RANGED_BOOSTS = MELEE_BOOSTS + ["Enhance Range"]
DEF_BOOSTS = ["Reduce Endurance Cost", "Enhance Recharge Speed", "Enhance Defense"]
RES_BOOSTS = ["Reduce Endurance Cost", "Enhance Damage Resistance"]
PLAYER_TGT = "target>enttype eq 'player'"


def power_specs():
    P = {}
    tb = ("vanguard_melee", "tidal_blade")
    P[tb] = [
        dict(power="Riptide_Cut", display="Riptide Cut", level=0, type="Click",
             help="A quick slash of hardened water. Deals moderate Cold damage.",
             short="Melee, DMG(Cold)", attack_types=["Melee", "Cold"], accuracy=1.05,
             range=7.0, activation_time=0.83, recharge_time=4.0, endurance_cost=4.368,
             effects=attack_effects([("Cold", 1.0)], "Melee_Damage", 0.9,
                                    crit_tag="TidalCrit"),
             boosts=MELEE_BOOSTS, sets=["Melee Damage", "Universal Damage Sets"], seed=1),
        dict(power="Undertow_Slash", name="Undertow_slash", display="Undertow Slash", level=0,
             type="Click", help="A dragging cut that slows the target's attacks.",
             short="Melee, DMG(Cold), Foe \u2013Recharge",
             attack_types=["Melee", "Cold"], accuracy=1.0, range=7.0, activation_time=1.17,
             recharge_time=8.0, endurance_cost=7.696,
             effects=attack_effects(
                 [("Cold", 1.0)], "Melee_Damage", 1.35, crit_tag="TidalCrit",
                 extra=[effect([template(["RechargeTime"], "Current", "AnyAffected",
                                         "Ranged_Slow", -0.2, "8 seconds", stack="Replace",
                                         flags=list(DMG_FLAGS)),
                                template(["RunningSpeed", "FlyingSpeed"], "Current",
                                         "AnyAffected", "Ranged_Slow", -0.25, "8 seconds",
                                         stack="Replace", flags=list(DMG_FLAGS))])]),
             boosts=MELEE_BOOSTS + ["Enhance Slow Movement"],
             sets=["Melee Damage", "Slow Movement", "Universal Damage Sets"], seed=2),
        dict(power="Build_Momentum", display="Build Momentum", level=5, type="Click",
             help="Gather yourself for a few seconds, greatly increasing your damage.",
             short="Self +DMG, +To Hit", attack_types=[], target_type="Self",
             activation_time=1.17, recharge_time=90.0, endurance_cost=5.2,
             effects=[effect([template(["Smashing_Dmg", "Lethal_Dmg", "Fire_Dmg", "Cold_Dmg"],
                                       "Strength", "Self", "Melee_Buff_Def", 1.5,
                                       "10 seconds", stack="Replace",
                                       flags=list(SELF_FLAGS)),
                              template(["ToHit"], "Current", "Self", "Melee_Buff_Def", 0.25,
                                       "10 seconds", stack="Replace",
                                       flags=list(BUFF_FLAGS))], tags=["Momentum"])],
             boosts=["Enhance Recharge Speed", "Enhance ToHit Buffs"], sets=[],
             recharge_groups=["Surge_Group"], seed=3),
        dict(power="Crashing_Wave", display="Crashing Wave", level=7, type="Click",
             help="Sweep a wall of water in front of you, hitting every foe in a cone.",
             short="Melee (Cone), DMG(Cold), Knockback", attack_types=["Melee", "Cold"],
             effect_area="Cone", arc=1.5708, range=9.0, max_targets=5,
             activation_time=1.67, recharge_time=12.0, endurance_cost=11.856,
             effects=attack_effects(
                 [("Cold", 0.7), ("Smashing", 0.3)], "Melee_Damage", 1.1,
                 extra=[effect([template(["Knockback"], "Current", "AnyAffected",
                                         "Melee_Ones", 0.67, caster_stack="Collective",
                                         stack="Ignore", flags=["NearGround (3)",
                                                                "ResistMagnitude (7)"],
                                         params={"type": "Knock", "vec_start": "kKnock_Target",
                                                 "vec_end": "kKnock_Down",
                                                 "vec_adjust_pyr": [0.0, 0.0, 0.0],
                                                 "priority": 0, "vel": 0.0, "vel_mag": 0.1,
                                                 "height": -1.0, "height_mag": -1.0},
                                         suppress_events=[{"event": "Repelled",
                                                           "post_event_duration": 10.0,
                                                           "always": True}])],
                               chance=0.4)]),
             boosts=MELEE_BOOSTS + ["Enhance KnockBack"],
             sets=["Knockback", "Melee AoE Damage", "Universal Damage Sets"], seed=4,
             custom_fx=[custom_fx(41, "Bright", "Additive", "P3301001"),
                        custom_fx(42, "Dark", "Subtractive")]),
        dict(power="Whirlpool", display="Whirlpool", level=11, type="Click",
             help="Spin in place, dragging every nearby foe into a churning vortex.",
             short="PBAoE Melee, DMG(Cold)", attack_types=["Area", "Melee", "Cold"],
             effect_area="AoE", radius=8.0, max_targets=10, activation_time=2.03,
             recharge_time=16.0, endurance_cost=14.352,
             effects=attack_effects([("Cold", 1.0)], "Melee_Damage", 0.85),
             boosts=MELEE_BOOSTS, sets=["Melee AoE Damage", "Universal Damage Sets"],
             target_type="Self", targets_affected=["Foe (Alive)"], autohit=["Self"], seed=5),
        dict(power="Tsunami_Strike", display="Tsunami Strike", level=25, type="Click",
             help="Your strongest blow: a crushing wave that leaves the target reeling.",
             short="Melee, DMG(Cold/Smashing), Foe Disorient",
             attack_types=["Melee", "Cold", "Smashing"], accuracy=1.2, range=7.0,
             activation_time=2.0, recharge_time=20.0, endurance_cost=18.512,
             effects=attack_effects(
                 [("Cold", 0.6), ("Smashing", 0.4)], "Melee_Damage", 2.76,
                 crit_tag="TidalCrit",
                 extra=[effect([template(["Stunned"], "Current", "AnyAffected", "Ranged_Stun",
                                         2.0, "6 seconds", stack="Replace",
                                         flags=list(DMG_FLAGS),
                                         msgs=messages("You daze {PlayerDest}.",
                                                       "{PlayerSource} dazes you."))],
                               chance=0.6)]),
             redirect=[{"name": "Redirects.Tidal_Blade.Tsunami_Strike_Surge",
                        "condition_expression": "source>kMeter >= 0.9",
                        "show_in_info": True}],
             boosts=MELEE_BOOSTS + ["Enhance Stun"],
             sets=["Melee Damage", "Stuns", "Universal Damage Sets"], seed=6),
    ]
    ef = ("vanguard_melee", "ember_fists")
    P[ef] = [
        dict(power="Cinder_Jab", display="Cinder Jab", level=0, type="Click",
             help="A fast jab that leaves burning cinders behind.",
             short="Melee, DMG(Fire/Smashing)", attack_types=["Melee", "Fire", "Smashing"],
             range=7.0, activation_time=0.9, recharge_time=3.0, endurance_cost=3.536,
             effects=attack_effects([("Fire", 0.5), ("Smashing", 0.5)], "Melee_Damage", 0.7,
                                    tags=["EmberCharge"]),
             boosts=MELEE_BOOSTS, sets=["Melee Damage", "Universal Damage Sets"], seed=7),
        dict(power="Flare_Hook", display="Flare Hook", level=1, type="Click",
             help="A looping hook trailing flame.",
             short="Melee, DMG(Fire/Smashing)", attack_types=["Melee", "Fire", "Smashing"],
             range=7.0, activation_time=1.07, recharge_time=6.0, endurance_cost=6.032,
             effects=attack_effects([("Fire", 0.5), ("Smashing", 0.5)], "Melee_Damage", 1.2,
                                    tags=["EmberCharge"]),
             boosts=MELEE_BOOSTS, sets=["Melee Damage", "Universal Damage Sets"], seed=8),
        dict(power="Smolder_Aura", display="Smolder Aura", level=9, type="Toggle",
             help="Radiate heat that singes every foe near you.",
             short="Toggle: PBAoE, DoT(Fire)", attack_types=["Area", "Fire"],
             effect_area="AoE", radius=8.0, max_targets=10, activation_time=0.0,
             recharge_time=10.0, activate_period=2.0, endurance_cost=0.52,
             effects=[effect([dmg_template("Fire", "Melee_Damage", 0.08, "scorches")],
                             tags=["25% Chance for Scald/Burn"], chance=0.25,
                             is_pvp="EITHER")],
             boosts=MELEE_BOOSTS, sets=["Melee AoE Damage"], target_type="Self",
             targets_affected=["Foe (Alive)"], autohit=["Self"], seed=9,
             attacker_hit="Your {PowerName} smolders around you."),
        dict(power="Kindle", display="Kindle", level=17, type="Click",
             help="Stoke your embers: every Ember Charge effect you carry hits harder for a "
                  "while.",
             short="Self +DMG(Fire)", attack_types=[], target_type="Self",
             activation_time=1.0, recharge_time=60.0, endurance_cost=7.8,
             effects=[effect([template(["Global_Chance_Mod"], "Current", "Self", "Melee_Ones",
                                       1.0, "20 seconds", stack="Replace",
                                       flags=list(SELF_FLAGS),
                                       params={"type": "EffectFilter",
                                               "tags": ["EmberCharge"],
                                               "category_names": [], "powerset_names": [],
                                               "power_names": []},
                                       fx={"continuing_bits": [97], "continuing_fx": None,
                                           "conditional_bits": [],
                                           "conditional_fx": None})])],
             boosts=["Enhance Recharge Speed"], sets=[], seed=10),
    ]
    bp = ("vanguard_guard", "bastion_plating")
    P[bp] = [
        dict(power="Iron_Skin", display="Iron Skin", level=0, type="Toggle",
             help="Harden your outer layer, raising your Defense to Smashing and Lethal "
                  "attacks.",
             short="Toggle: Self +DEF(Smashing, Lethal)", attack_types=[], target_type="Self",
             activation_time=0.67, recharge_time=4.0, activate_period=0.5,
             endurance_cost=0.104,
             effects=[effect([template(["Smashing", "Lethal"], "Current", "Self",
                                       "Melee_Buff_Def", 1.5, "0.75 seconds", stack="Replace")],
                             is_pvp="PVE_ONLY"),
                      effect([template(["Smashing", "Lethal"], "Current", "Self",
                                       "Melee_Buff_Def", 1.2, "0.75 seconds", stack="Replace")],
                             is_pvp="PVP_ONLY")],
             boosts=DEF_BOOSTS, sets=["Defense Sets"], seed=11,
             attacker_hit="Your {PowerName} hardens against blows."),
        dict(power="Riveted_Frame", display="Riveted Frame", level=0, type="Auto",
             help="Passive plating that shrugs off a share of all damage.",
             short="Auto: Self +Res(All but Psionic)", attack_types=[], target_type="Self",
             activation_time=0.0, recharge_time=0.0, activate_period=10.0,
             endurance_cost=0.0,
             effects=[effect([template(["Smashing_Dmg", "Lethal_Dmg", "Fire_Dmg", "Cold_Dmg",
                                        "Energy_Dmg"], "Resistance", "Self", "Melee_Res_Dmg",
                                       1.0, "10.25 seconds", stack="Replace")])],
             boosts=RES_BOOSTS, sets=["Resist Damage"], seed=12),
        dict(power="Hold_the_Line", display="Hold the Line", level=8, type="Toggle",
             help="Plant your feet: protects against Hold, Stun and Knockback.",
             short="Toggle: Self Status Protection, +Res(Knockback)", attack_types=[],
             target_type="Self", activation_time=0.67, recharge_time=10.0,
             activate_period=0.5, endurance_cost=0.13,
             effects=[effect([template(["Held", "Stunned"], "Current", "Self", "Melee_Ones",
                                       -10.0, "0.75 seconds", stack="Replace"),
                              template(["Knockback"], "Resistance", "Self", "Melee_Ones",
                                       1.0, "0.75 seconds", stack="Replace"),
                              template(["Held", "Stunned"], "Resistance", "Self",
                                       "Melee_Res_Dmg", 3.0, "0.75 seconds",
                                       stack="Replace")])],
             boosts=DEF_BOOSTS, sets=["Defense Sets"], exclusion_groups=["Plating_Group"],
             seed=13),
        dict(power="Second_Wind", display="Second Wind", level=16, type="Click",
             help="Catch your breath and heal a large share of your Hit Points.",
             short="Self Heal", attack_types=[], target_type="Self",
             activation_time=1.17, recharge_time=60.0, endurance_cost=10.4,
             effects=[effect([template(["HitPoints"], "Absolute", "Self", "Ranged_Heal", 2.5,
                                       stack="Stack", flags=list(BUFF_FLAGS),
                                       msgs=messages("You catch your second wind.", None,
                                                     "Second Wind"))])],
             boosts=["Enhance Heal", "Enhance Recharge Speed", "Reduce Endurance Cost"],
             sets=["Healing"], seed=14),
    ]
    sb = ("warden_ranged", "static_bolts")
    P[sb] = [
        dict(power="Spark_Dart", display="Spark Dart", level=0, type="Click",
             help="A quick dart of static electricity. Drains a little Endurance.",
             short="Ranged, DMG(Energy), Foe \u2013End", attack_types=["Ranged", "Energy"],
             range=80.0, activation_time=1.0, recharge_time=4.0, endurance_cost=5.2,
             effects=attack_effects([("Energy", 1.0)], "Ranged_Damage", 1.0),
             boosts=RANGED_BOOSTS, sets=["Ranged Damage", "Universal Damage Sets"], seed=15,
             activation_effects=True, projectile=90.0),
        dict(power="Arc_Lance", display="Arc Lance", level=0, type="Click",
             help="A long lance of current that strikes one foe hard.",
             short="Ranged, DMG(Energy)", attack_types=["Ranged", "Energy"], accuracy=1.2,
             range=100.0, activation_time=1.67, recharge_time=8.0, endurance_cost=8.528,
             effects=attack_effects([("Energy", 1.0)], "Ranged_Damage", 1.64),
             boosts=RANGED_BOOSTS, sets=["Ranged Damage", "Universal Damage Sets"], seed=16,
             activation_effects=True),
        dict(power="Chain_Flicker", display="Chain Flicker", level=1, type="Click",
             help="Static that leaps from foe to foe, weakening with each jump.",
             short="Ranged (Chain), DMG(Energy)", attack_types=["Ranged", "Energy"],
             effect_area="Chain", range=60.0, max_targets=5, activation_time=1.67,
             recharge_time=10.0, endurance_cost=10.192, chain_delay=0.3,
             chain_effect_expr="minmax(1.2 - 0.2 * @ChainJump, 0.4, 1)", chain_forks=[1, 1, 2],
             effects=attack_effects([("Energy", 1.0)], "Ranged_Damage", 1.0,
                                    tags=["Static Field"]),
             boosts=RANGED_BOOSTS, sets=["Ranged AoE Damage", "Universal Damage Sets"],
             seed=17, activation_effects=True),
        dict(power="Build_Momentum", display="Build Momentum", level=5, type="Click",
             help="Gather static in your hands, greatly increasing your damage for a few "
                  "seconds.",
             short="Self +DMG, +To Hit", attack_types=[], target_type="Self",
             activation_time=1.17, recharge_time=90.0, endurance_cost=5.2,
             effects=[effect([template(["Energy_Dmg", "Fire_Dmg"], "Strength", "Self",
                                       "Ranged_Buff_Dmg", 1.0, "10 seconds", stack="Replace",
                                       flags=list(SELF_FLAGS))], tags=["Momentum"])],
             boosts=["Enhance Recharge Speed", "Enhance ToHit Buffs"], sets=[],
             recharge_groups=["Surge_Group"], seed=18),
        # the powerset index lists this one as "Ion_DeCharge": same power, other case
        dict(power="Ion_Decharge", name="Ion_DeCharge", index_name="Ion_DeCharge",
             display="Ion Decharge", level=15, type="Click",
             help="Overload a foe\u2019s nerves: Holds the target briefly.",
             short="Ranged, DMG(Energy), Foe Hold", attack_types=["Ranged", "Energy"],
             range=70.0, activation_time=1.5, recharge_time=16.0, endurance_cost=10.4,
             effects=attack_effects(
                 [("Energy", 1.0)], "Ranged_Damage", 0.6,
                 extra=[effect([template(["Held"], "Current", "AnyAffected", "Ranged_Stun",
                                         3.0, "8 seconds", stack="Replace",
                                         flags=list(DMG_FLAGS)),
                                template(["Global_Chance_Mod"], "Current", "Self",
                                         "Ranged_Ones", 1.0, "0.75 seconds", stack="Replace",
                                         flags=list(SELF_FLAGS),
                                         params={"type": "EffectFilter",
                                                 "tags": ["WardenOnly"],
                                                 "category_names": [], "powerset_names": [],
                                                 "power_names": []})])]),
             boosts=RANGED_BOOSTS + ["Enhance Hold"], sets=["Holds", "Ranged Damage"],
             seed=19, activation_effects=True),
        dict(power="Thunderhead", display="Thunderhead", level=25, type="Click",
             help="Call a small storm over a location. Foes caught beneath it take Energy "
                  "damage.",
             short="Ranged (Location AoE), DoT(Energy)", attack_types=["Area", "Energy"],
             effect_area="Location", radius=25.0, max_targets=16, range=60.0,
             activation_time=2.03, recharge_time=60.0, endurance_cost=18.512,
             target_type="Location", targets_affected=["Foe (Alive)"], autohit=[],
             effects=[effect([dmg_template("Energy", "Ranged_Damage", 0.25, "shocks")],
                             tags=["Static Field"], requires=""),
                      effect([template(["Grant_Power"], "Absolute", "AnyAffected", "Ranged_Ones",
                                       1.0, stack="Replace", flags=list(SELF_FLAGS),
                                       params={"type": "Power", "count": 1,
                                               "category_names": [], "powerset_names": [],
                                               "power_names": [
                                                   # dangling, like the real Temporary_Powers
                                                   "Temporary_Powers.Temporary_Powers."
                                                   "Thunderhead_Cloud"]})])],
             boosts=RANGED_BOOSTS, sets=["Ranged AoE Damage", "Universal Damage Sets"],
             seed=20, activation_effects=True),
    ]
    ev = ("warden_ranged", "ember_fists")
    P[ev] = [
        dict(power="Ember_Toss", display="Ember Toss", level=0, type="Click",
             help="Flick a handful of embers at a distant foe.",
             short="Ranged, DMG(Fire)", attack_types=["Ranged", "Fire"], range=60.0,
             activation_time=1.0, recharge_time=4.0, endurance_cost=5.2,
             effects=attack_effects([("Fire", 1.0)], "Ranged_Damage", 1.0,
                                    tags=["EmberCharge"]),
             boosts=RANGED_BOOSTS, sets=["Ranged Damage", "Universal Damage Sets"], seed=21,
             projectile=60.0),
        # same "name" as vanguard_melee.ember_fists.cinder_jab, in a powerset of the same name
        dict(power="Cinder_Jab", display="Cinder Jab", level=1, type="Click",
             help="Flick a single hot cinder; cheap and quick.",
             short="Ranged, DMG(Fire)", attack_types=["Ranged", "Fire"], range=60.0,
             activation_time=0.9, recharge_time=2.5, endurance_cost=3.12,
             effects=attack_effects([("Fire", 1.0)], "Ranged_Damage", 0.62,
                                    tags=["EmberCharge"]),
             boosts=RANGED_BOOSTS, sets=["Ranged Damage", "Universal Damage Sets"], seed=22,
             projectile=60.0),
        dict(power="Heat_Mirage", display="Heat Mirage", level=8, type="Toggle",
             help="Bend the air around you with heat.\u00a0Foes have trouble seeing you.",
             short="Toggle: Self Stealth, +DEF(All)", attack_types=[], target_type="Self",
             activation_time=1.0, recharge_time=20.0, activate_period=0.5,
             endurance_cost=0.26,
             effects=[effect([template(["StealthRadius_PVE"], "Current", "Self",
                                       "Melee_Ones", 35.0, "0.75 seconds",
                                       stack="Suppress", stack_key="StealthToggle"),
                              template(["Base_Defense"], "Current", "Self", "Melee_Buff_Def",
                                       0.5, "0.75 seconds", stack="Replace")])],
             boosts=DEF_BOOSTS, sets=["Defense Sets"], exclusion_groups=["Veil_Group"],
             seed=23),
    ]
    mt = ("warden_support", "mending_tides")
    P[mt] = [
        dict(power="Tidal_Mend", display="Tidal Mend", level=0, type="Click",
             help="A wash of cool water heals an ally.\u00a0Cannot target yourself.",
             short="Ally Heal", attack_types=[], target_type="Ally (Alive)",
             targets_affected=["Ally (Alive)"], autohit=["Ally (Alive)"], range=80.0,
             activation_time=1.17, recharge_time=4.0, endurance_cost=10.4,
             effects=[effect([template(["HitPoints"], "Absolute", "AnyAffected",
                                       "Ranged_Heal", 1.96, stack="Stack",
                                       msgs=messages("You mend {PlayerDest}.",
                                                     "{PlayerSource} mends you."))])],
             boosts=["Enhance Heal", "Reduce Endurance Cost", "Enhance Range",
                     "Enhance Recharge Speed"], sets=["Healing", "Warden Archetype Sets"],
             seed=24),
        dict(power="Undertow_Snare", display="Undertow Snare", level=1, type="Click",
             help="Drag at a foe's legs with a sudden undertow, slowing it.",
             short="Ranged, Foe \u2013Speed, \u2013Recharge", attack_types=["Ranged"],
             range=60.0, activation_time=1.07, recharge_time=8.0, endurance_cost=7.8,
             effects=[effect([template(["RunningSpeed", "FlyingSpeed"], "Current",
                                       "AnyAffected", "Ranged_Slow", -0.5, "20 seconds",
                                       stack="Replace", flags=list(DMG_FLAGS)),
                              template(["RechargeTime"], "Current", "AnyAffected",
                                       "Ranged_Slow", -0.3, "20 seconds", stack="Replace",
                                       flags=list(DMG_FLAGS))])],
             boosts=["Enhance Slow Movement", "Enhance Accuracy", "Enhance Range"],
             sets=["Slow Movement"], seed=25),
        dict(power="Calm_Waters", display="Calm Waters", level=6, type="Auto",
             help="Teammates near you regenerate a little faster.",
             short="Auto: PBAoE Team +Regeneration", attack_types=[], target_type="Self",
             effect_area="AoE", radius=30.0, max_targets=255, targets_affected=["Self",
                                                                                "Ally (Alive)"],
             autohit=["Self", "Ally (Alive)"], activation_time=0.0, recharge_time=0.0,
             activate_period=10.0, endurance_cost=0.0,
             effects=[effect([template(["Regeneration"], "Current", "AnyAffected",
                                       "Melee_Ones", 0.25, "10.25 seconds",
                                       stack="Replace")])],
             boosts=["Enhance Healing"], sets=["Warden Archetype Sets"], seed=26,
             archetypes=["boss_colossus", "warden"]),
    ]
    sk = ("pool", "skyrunning")
    P[sk] = [
        dict(power="Quickstep", display="Quickstep", level=0, type="Toggle",
             help="Move at a brisk run without tiring.",
             short="Toggle: Self +Run Speed", attack_types=[], target_type="Self",
             activation_time=0.0, recharge_time=2.0, activate_period=0.5,
             endurance_cost=0.13,
             effects=[effect([template(["RunningSpeed"], "Current", "Self",
                                       "Melee_SpeedRunning", 0.35, "0.75 seconds",
                                       stack="Suppress", stack_key="TravelBuff")])],
             boosts=["Reduce Endurance Cost", "Enhance Running Speed"], sets=["Running"],
             exclusion_groups=["Stride_Group"], seed=27, pool=True),
        dict(power="Updraft", display="Updraft", level=0, type="Click",
             help="Leap straight up on a gust of wind.",
             short="Self +Jump", attack_types=[], target_type="Self",
             activation_time=0.5, recharge_time=30.0, endurance_cost=5.2,
             effects=[effect([template(["JumpHeight"], "Current", "Self", "Melee_Ones", 3.0,
                                       "2 seconds", stack="Replace",
                                       flags=list(SELF_FLAGS))])],
             boosts=["Enhance Recharge Speed", "Enhance Jumping"], sets=["Leaping"],
             recharge_groups=["Updraft_Group"], seed=28, pool=True),
        dict(power="Cloud_Stride", display="Cloud Stride", level=14, type="Toggle",
             help="Stride across the sky at great speed.",
             short="Toggle: Self Fly, +Speed", attack_types=[], target_type="Self",
             activation_time=1.0, recharge_time=4.0, activate_period=0.5,
             endurance_cost=0.52,
             effects=[effect([template(["Fly"], "Absolute", "Self", "Melee_Ones", 1.0,
                                       "0.75 seconds", stack="Replace",
                                       flags=list(SELF_FLAGS)),
                              template(["FlyingSpeed"], "Current", "Self",
                                       "Melee_SpeedRunning", 0.6, "0.75 seconds",
                                       stack="Suppress", stack_key="TravelBuff")])],
             boosts=["Reduce Endurance Cost", "Enhance Flying Speed"],
             sets=["Flight", "Universal Travel"], exclusion_groups=["Stride_Group"], seed=29,
             pool=True),
        dict(power="Tailwind", display="Tailwind", level=19, type="Auto",
             help="A constant breeze at your back speeds your recharge a little.",
             short="Auto: Self +Recharge", attack_types=[], target_type="Self",
             activation_time=0.0, recharge_time=0.0, activate_period=10.0,
             endurance_cost=0.0,
             effects=[effect([template(["RechargeTime"], "Strength", "Self", "Melee_Ones",
                                       0.1, "10.25 seconds", stack="Replace",
                                       flags=list(SELF_FLAGS))])],
             boosts=["Enhance Recharge Speed"], sets=[], seed=30, pool=True),
    ]
    return P


# A power file that the powerset index does not list (the real export has 8 such files).
ORPHAN = (("pool", "skyrunning"), dict(
    power="Legacy_Glide", display="Legacy Glide", level=0, type="Toggle",
    help="An older gliding power kept for characters that still own it.",
    short="Toggle: Self Glide", attack_types=[], target_type="Self",
    activation_time=0.0, recharge_time=4.0, activate_period=0.5, endurance_cost=0.065,
    effects=[effect([template(["FlyingSpeed"], "Current", "Self", "Melee_Ones", 0.2,
                              "0.75 seconds", stack="Replace")])],
    boosts=["Reduce Endurance Cost"], sets=[], seed=31, pool=True, archetypes=[],
    show_in_info=False))

# export-mini-v2: the power added to vanguard_melee.ember_fists
V2_ADDED = dict(
    power="Blaze_Uppercut", display="Blaze Uppercut", level=21, type="Click",
    help="A rising uppercut wreathed in flame that launches the target.",
    short="Melee, DMG(Fire/Smashing), Knockup", attack_types=["Melee", "Fire", "Smashing"],
    range=7.0, activation_time=1.5, recharge_time=14.0, endurance_cost=13.0,
    effects=attack_effects([("Fire", 0.6), ("Smashing", 0.4)], "Melee_Damage", 2.1,
                           tags=["EmberCharge"]),
    boosts=MELEE_BOOSTS, sets=["Melee Damage", "Universal Damage Sets"], seed=32)
V2_REMOVED = "Vanguard_Melee.Ember_Fists.Flare_Hook"
V2_CHANGED = ("Vanguard_Melee.Tidal_Blade.Riptide_Cut", "recharge_time", 3.5)
V2_NEW_KEY = ("pvp_mode", None)


def make_power(catdir, psdir, s):
    catname, _catdisp, cat_ats = CATEGORIES[catdir]
    ps = POWERSETS[(catdir, psdir)]
    full = "%s.%s.%s" % (catname, ps["name"], s["power"])
    ptype = s["type"]
    effs = s["effects"]
    act = []
    if s.get("activation_effects"):
        act = [effect([template(["Smashing_Dmg", "Energy_Dmg", "Fire_Dmg"], "Strength", "Self",
                                "Ranged_Ones", 0.0, ttype="Expression",
                                duration_expression="power.base>activatetime + 5",
                                magnitude_expression="0.05 * power.base>activatetime",
                                flags=["IgnoreStrength (4)", "IgnoreResistance (5)",
                                       "IgnoreLevelDifference (6)"],
                                msgs=messages())], tags=["Overcharge"])]
    cache = attribs_of(effs, [])
    attribs_of(act, cache)
    target_type = s.get("target_type", "Foe (Alive)")
    if "targets_affected" in s:
        affected = s["targets_affected"]
    else:
        affected = ["Self"] if target_type == "Self" else [target_type]
    if "autohit" in s:
        autohit = s["autohit"]
    else:
        autohit = ["Self"] if target_type == "Self" else []
    is_auto = ptype == "Auto"
    is_toggle = ptype == "Toggle"
    if "archetypes" in s:
        ats = s["archetypes"]
    elif s.get("pool"):
        ats = list(PLAYER_ATS)
    else:
        ats = [a for a in cat_ats if a in ARCHETYPES]
    seed = s["seed"]
    projectile = s.get("projectile", FLT_MAX)
    has_attack = bool(s["attack_types"])
    fx = fx_block(seed,
                  None if is_auto else "MENU/POWERS/ANIMFX/MINI_%s_%s.PFX"
                  % (ps["name"].upper(), s["power"].upper()),
                  projectile=projectile,
                  attack_fx=("MINI/%s/%s.FX" % (ps["name"].upper(), s["power"].upper())
                             if has_attack else None),
                  hit_fx=("MINI/%s/%s_HIT.FX" % (ps["name"].upper(), s["power"].upper())
                          if has_attack else None),
                  continuing=(["MINI/%s/%s_AURA.FX" % (ps["name"].upper(), s["power"].upper())]
                              if is_toggle else []),
                  activation_fx=("MINI/WEAPONS/BLADE_%d.FX" % seed
                                 if catdir == "vanguard_melee" else None))
    modes_disallowed = ["Disable_All"]
    if s.get("pool"):
        modes_disallowed = ["Disable_All", "Disable_Pool"]
    p = {
        "name": s.get("name", s["power"]),
        "full_name": full,
        "short_name": s["power"],
        "type": ptype,
        "display_name": s["display"],
        "display_fullname": "%s.%s.%s" % (catname.replace("_", " "), ps["display_name"],
                                          s["display"]),
        "display_help": s["help"],
        "display_short_help": s["short"],
        "icon": "%s_%s.png" % (ps["name"].lower(), s["power"].lower().replace("_", "")),
        "auto_issue": False,
        "auto_issue_keeps_level": False,
        "message_caster": None,
        "message_floater": None,
        "message_attacker_hit": s.get("attacker_hit"),
        "message_target_hit": None,
        "message_target_confirm": None,
        "message_float_reward": None,
        "message_defense_avoidance": "Deflected" if is_toggle and not s.get("pool") else None,
        "attack_types": s["attack_types"],
        "requires": "",
        "activate_requires": "",
        "accuracy": float(s.get("accuracy", 1.0)),
        "number_allowed": 1,
        "caster_near_ground": False,
        "target_near_ground": target_type == "Location",
        "cast_when_dead": "AliveOnly",
        "cast_through": ["hold", "stun", "sleep", "terror"] if catdir == "warden_ranged"
        and has_attack else [],
        "toggle_ignores": ["hold", "sleep", "stun"] if is_toggle else [],
        "ignore_level_gained": False,
        "works_on_untouchable": False,
        "works_through_vision_phase": False,
        "target_untargetable": False,
        "interrupt_like_sleep": False,
        "notify_ai_when": "Always",
        "effect_area": s.get("effect_area", "SingleTarget"),
        "max_targets_hit": s.get("max_targets", 0),
        "radius": float(s.get("radius", 0.0)),
        "arc": float(s.get("arc", 0.0)),
        "range": float(s.get("range", 0.0)),
        "range_secondary": 0.0,
        "activation_time": float(s.get("activation_time", 1.0)),
        "root_time": 0.0 if (is_auto or is_toggle) else float(s.get("activation_time", 1.0)),
        "interrupt_time": 0.0,
        "recharge_time": float(s.get("recharge_time", 0.0)),
        "activate_period": float(s.get("activate_period", 0.0)),
        "endurance_cost": float(s.get("endurance_cost", 0.0)),
        "cancelable": False,
        "self_confirm": False,
        "confirm_requires": "",
        "time_to_confirm": 0,
        "chain_delay": float(s.get("chain_delay", 0.0)),
        "chain_effect_expr": s.get("chain_effect_expr", ""),
        "chain_forks": s.get("chain_forks", []),
        "chain_into_power_name": None,
        "chain_into_optional": False,
        "vec_box_offset": [0.0, 0.0, 0.0],
        "vec_box_size": [0.0, 0.0, 0.0],
        "number_of_charges": 0,
        "max_num_charges": 0,
        "destroy_on_last_use": True,
        "power_lifetime": 0.0,
        "max_power_lifetime": 0.0,
        "power_lifetime_ingame": 0.0,
        "max_power_lifetime_ingame": 0.0,
        "stacking_lifetime": False,
        "toggle_on_time": 0.0,
        "max_toggle_on_time": 0.0,
        "toggle_detoggle_time": 0.0,
        "toggle_droppable": "Sometimes",
        "ignore_toggle_max_distance": False,
        "target_type": target_type,
        "target_type_secondary": None,
        "target_visibility": "LineOfSight",
        "targets_affected": affected,
        "targets_autohit": autohit,
        "target_requires": "",
        "proc_allowed": "All",
        "boosts_allowed": s["boosts"],
        "allowed_boostset_cats": s["sets"],
        "exclusion_groups": s.get("exclusion_groups", []),
        "modes_required": [],
        "modes_disallowed": modes_disallowed,
        "modes_suspended": [],
        "recharge_groups": s.get("recharge_groups", []),
        "ignore_strength": False,
        "strengths_disallowed": ["Range"] if catdir == "vanguard_melee" else [],
        "global_strengths_disallowed": [],
        "proc_ignore_over_cap": False,
        "proc_ignore_chain_effect": True,
        "procs_only_on_main_target": False,
        "vars_attribmods_can_reference": [],
        "show_buff_icon": target_type == "Self",
        "show_in_info": s.get("show_in_info", True),
        "show_in_manage": True,
        "show_in_inventory": "Show",
        "deletable": False,
        "tradeable": False,
        "do_not_save": False,
        "max_boosts": 6,
        "boost_info": dict(DEFAULT_BOOST_INFO),
        "instance_locked": False,
        "is_environment_hit": False,
        "shuffle_target_list": False,
        "enforced_level_bought": -1,
        "refreshes_on_active_player_change": False,
        "highlight_expression": "",
        "highlight_icon": None,
        "highlight_color": "#00000000",
        "travel_suppression_time": 0.0,
        "server_tray_priority": 0,
        "server_tray_requires": "",
        "tray_placement": None if is_auto else "Forward",
        "tray_number": 0 if is_auto else 1,
        "tray_slot": 0 if is_auto else (3 if s.get("pool") else 1),
        "abusive_buff": True,
        "position_center": "kModTarget_Caster",
        "position_distance": 0.0,
        "position_height": 0.0,
        "position_yaw": 0.0,
        "face_target": True,
        "ignore_stance": False,
        "remember_stance": True,
        "attrib_cache": cache,
        "max_targets_expression": "",
        "chain_target_expr": "",
        "powerset": "%s.%s" % (catname, ps["name"]),
        "available_level": s["level"],
        "archetypes": ats,
        "redirect": s.get("redirect", []),
        "effects": effs,
        "activation_effects": act,
        "fx": fx,
        "custom_fx": s.get("custom_fx", []),
        "fx_only_on_main_target": False,
    }
    return p


POWER_KEYS = None  # filled from the first power built, to check all powers have the same keys


# ---------------------------------------------------------------------------------------------
# Enhancement sets
# ---------------------------------------------------------------------------------------------

BONUS_NAMES = {
    "increased_health_2": "Small Increased Health Bonus",
    "increased_health_3": "Moderate Increased Health Bonus",
    "improved_recharge_time_3": "Moderate Improved Recharge Time Bonus",
    "increased_damage_2": "Small Increased Damage Bonus",
    "increased_melee_def_3": "Moderate Increased Melee Def Bonus",
    "increased_ranged_def_2": "Small Increased Ranged Def Bonus",
    "improved_recovery_2": "Small Improved Recovery Bonus",
    "accuracy_3": "Moderate Accuracy Bonus",
    "stormcallers_grace": "Stormcaller's Grace: Chance for +Recharge",
    "wardens_resolve": "Warden's Resolve: Team Endurance",
    "improved_regeneration_3_pvp": "Moderate Improved Regeneration Bonus (PvP)",
}


def make_boost_set(name, display, group, conversion, min_level, max_level, boosts,
                   bonuses, attuned_only=False, restricted=None, global_letter=None,
                   icon=None):
    """boosts: list of (letter, computed suffix, aspects, min_slot_level)."""
    low = name.lower()
    boost_lists = []
    infos = {}
    comp_boosts = []
    boost_type = []
    icons = []
    btype = {"Melee Damage": "Enhance Damage", "Ranged Damage": "Enhance Damage",
             "Warden Archetype Sets": "Enhance Heal"}[group]
    for letter, suffix, aspects, min_slot in boosts:
        crafted = "Crafted_%s_%s" % (name, letter)
        attuned = "Attuned_%s_%s" % (name, letter)
        entry = [] if attuned_only else ["Boosts.%s.%s" % (crafted, crafted)]
        entry.append("Boosts.%s.%s" % (attuned, attuned))
        boost_lists.append(entry)
        comp_boosts.append(([] if attuned_only else ["%s: %s" % (display, suffix)])
                           + ["Attuned %s: %s" % (display, suffix)])
        is_global = letter == global_letter
        uniq = None
        glob = None
        slot_req = ""
        if is_global:
            glob = [["set_bonus.set_bonus.%s" % low, BONUS_NAMES[low]]]
            uniq = ["attuned_%s_%s" % (low, letter.lower())]
            if not attuned_only:
                uniq.insert(0, "crafted_%s_%s" % (low, letter.lower()))
                uniq.sort()
            slot_req = "(BoostsSlotted>Attuned_%s_%s <= 0)" % (name, letter)
        for kind in ([] if attuned_only else ["crafted"]) + ["attuned"]:
            key = "%s_%s_%s" % (kind, low, letter.lower())
            att = kind == "attuned"
            catal = None
            if not att:
                catal = ["boosts.attuned_%s_%s.attuned_%s_%s" % (low, letter.lower(), low,
                                                                  letter.lower()),
                         "%s: %s" % (display, suffix)]
            infos[key] = {
                "slot_requires": (" && ".join(["(char>arch eq '%s')" % restricted[0]]
                                              + ([slot_req] if slot_req else []))
                                  if restricted else slot_req),
                "ignores_level_differences": True,
                "bonuses_ignore_exemplar": bool(attuned_only),
                "combinable": False,
                "tradeable": True,
                "account_bound": False,
                "boostable": not att and not is_global,
                "attuned": att,
                "catalyzes_to": catal,
                "max_level": 50,
                "min_slot_level": min_slot,
                "min_bonus_level": max(1, min_slot - 3),
                "computed_name": ("Attuned " if att else "") + "%s: %s" % (display, suffix),
                "aspects": aspects,
                "superior_scales": False,
                "boostset_name": low,
                "global_bonuses": glob,
                "is_proc": is_global,
                "is_unique": False,
                "restricted_ats": restricted if restricted else ([] if is_global else None),
                "unique_group": uniq,
                "only_at_50": False,
                "boost_type": btype,
                "icon": icon,
            }
            boost_type.append(btype)
            icons.append(icon)
    # computed.bonuses: one slot per "n boosts slotted" from 2 up, PvE and PvP merged
    comp_bonuses = []
    globals_ = {}
    for n in range(2, len(boosts) + 1):
        comp_bonuses.append([[p, BONUS_NAMES[p.split(".")[-1]] if "pvp" not in p else
                              BONUS_NAMES[p.split(".")[-1] + "_pvp"]]
                             for b in bonuses if b["min_boosts"] == n
                             for p in b["auto_powers"]])
    if global_letter:
        for kind in ([] if attuned_only else ["crafted"]) + ["attuned"]:
            key = "%s_%s_%s" % (kind, low, global_letter.lower())
            globals_[key] = [["set_bonus.set_bonus.%s" % low, BONUS_NAMES[low]]]
    return {
        "name": name,
        "display_name": display,
        "group_name": group,
        "conversion_groups": conversion,
        "boost_lists": boost_lists,
        "min_level": min_level,
        "max_level": max_level,
        "bonuses": bonuses,
        "computed": {
            "boost_type": boost_type,
            "bonuses": comp_bonuses,
            "globals": globals_,
            "icons": icons,
            "boosts": comp_boosts,
            "boost_infos": infos,
        },
    }


def bonus(n, powers, requires="", pvp=False, max_boosts=None):
    return {"min_boosts": n, "max_boosts": max_boosts or 6, "auto_powers": powers,
            "bonus_power": "", "requires": requires, "is_pvp_bonus": pvp}


def boost_sets():
    sets = []
    sets.append(make_boost_set(
        "Tidebreaker", "Tidebreaker", "Melee Damage", ["Rarity: Rare", "Category: Melee"],
        25, 50,
        [("A", "Accuracy/Damage", ["Accuracy", "Damage"], 22),
         ("B", "Damage/Endurance", ["Damage", "Endurance"], 22),
         ("C", "Damage/Recharge", ["Damage", "Recharge"], 22),
         ("D", "Accuracy/Damage/Endurance/Recharge",
          ["Accuracy", "Damage", "Endurance", "Recharge"], 22)],
        [bonus(2, ["set_bonus.set_bonus.increased_health_2"], max_boosts=4),
         bonus(3, ["set_bonus.set_bonus.increased_damage_2"], max_boosts=4),
         bonus(4, ["set_bonus.set_bonus.increased_melee_def_3"], max_boosts=4)],
        icon="e_icon_tidebreaker.png"))
    # display name with an apostrophe; a PvP bonus; a unique "global" proc in slot D
    sets.append(make_boost_set(
        "Stormcallers_Grace", "Stormcaller's Grace", "Ranged Damage",
        ["Rarity: Uncommon", "Category: Ranged"], 20, 40,
        [("A", "Accuracy/Damage", ["Accuracy", "Damage"], 17),
         ("B", "Damage/Range", ["Damage", "Range"], 17),
         ("C", "Accuracy/Damage/Recharge", ["Accuracy", "Damage", "Recharge"], 17),
         ("D", "Chance for +Recharge", [], 17)],
        [bonus(1, ["set_bonus.set_bonus.stormcallers_grace"],
               requires="(PowerBoostsSlotted>Attuned_Stormcallers_Grace_D >= 1) || "
                        "(PowerBoostsSlotted>Crafted_Stormcallers_Grace_D >= 1)",
               max_boosts=4),
         bonus(2, ["set_bonus.set_bonus.improved_recovery_2"], max_boosts=4),
         bonus(3, ["set_bonus.set_bonus.increased_ranged_def_2"], max_boosts=4),
         bonus(3, ["set_bonus.pvp_set_bonus.improved_regeneration_3"], requires="isPVPMap?",
               pvp=True, max_boosts=4),
         bonus(4, ["set_bonus.set_bonus.accuracy_3"], max_boosts=4)],
        global_letter="D", icon="e_icon_stormcallersgrace.png"))
    # archetype set: attuned only (inner boost lists of length 1), restricted to Wardens.
    # The name is spelled differently from the display name, as in the real export.
    sets.append(make_boost_set(
        "Wardens_Resolve", "Warden's Resolve", "Warden Archetype Sets",
        ["Rarity: Archetype", "Category: Warden"], 1, 1,
        [("A", "Heal/Endurance", ["Heal", "Endurance"], 9),
         ("B", "Heal/Recharge", ["Heal", "Recharge"], 9),
         ("C", "Team Endurance", [], 9)],
        [bonus(1, ["set_bonus.set_bonus.wardens_resolve"],
               requires="(PowerBoostsSlotted>Attuned_Wardens_Resolve_C >= 1)", max_boosts=3),
         bonus(2, ["set_bonus.set_bonus.increased_health_3"], max_boosts=3),
         bonus(3, ["set_bonus.set_bonus.improved_recharge_time_3"], max_boosts=3)],
        attuned_only=True, restricted=["Warden"], global_letter="C",
        icon="e_icon_wardensresolve.png"))
    return sets


# ---------------------------------------------------------------------------------------------
# Whole export
# ---------------------------------------------------------------------------------------------

# references to powers the export does not contain (the real export has thousands)
DANGLING_TAG_REFS = {
    "25% Chance for Scald/Burn": [["Villain Pets.Ember Drone.Scald",
                                   "villain_pets.ember_drone.scald"]],
}
STALE_TAG_DISPLAY = {
    # tag -> internal name -> display name that no longer matches the power's
    # display_fullname (the real tags keep old powerset display names)
    "TidalCrit": {"vanguard_melee.tidal_blade.riptide_cut":
                  "Vanguard Melee.Tidal Edge.Riptide Cut"},
}
EMPTY_LIST_WITH_BLANK_LINE = {"Momentum"}  # written as "affects": [\n\n  ] (real: vulnerability)
GROUP_DANGLING = {
    ("exclusion_groups", "Plating_Group"): [["Vanguard Guard.Bastion Plating.Old Rampart",
                                             "vanguard_guard.bastion_plating.old_rampart"]],
    ("exclusion_groups", "Veil_Group"): [["Temporary Powers.Temporary Powers.Smoke Flare",
                                          "temporary_powers.temporary_powers.smoke_flare"]],
    ("recharge_groups", "Updraft_Group"): [["Prestige.Prestige Travel.Rocket Boots",
                                            "prestige.prestige_travel.prestige_rocket_boots"]],
}


def tag_file_name(tag):
    # real rule: lower case, '/' replaced by '_', spaces and '%' kept
    return tag.lower().replace("/", "_") + ".json"


def effect_tags(effs, acc):
    for e in effs:
        for t in e["tags"]:
            acc.add(t)
        effect_tags(e["child_effects"], acc)
    return acc


def filter_tags(effs, acc):
    for e in effs:
        for t in e["templates"]:
            if t["params"] and t["params"]["type"] == "EffectFilter":
                acc.update(t["params"]["tags"])
        filter_tags(e["child_effects"], acc)
    return acc


def build_export(variant="mini"):
    """Return {relative path: (obj, options)} for a whole export."""
    files = {}
    specs = power_specs()
    powers = []  # (catdir, psdir, power dict, listed in index?)
    for (catdir, psdir), lst in specs.items():
        for s in lst:
            powers.append((catdir, psdir, make_power(catdir, psdir, s), s, True))
    powers.append((ORPHAN[0][0], ORPHAN[0][1], make_power(ORPHAN[0][0], ORPHAN[0][1],
                                                          ORPHAN[1]), ORPHAN[1], False))
    if variant == "v2":
        powers = [p for p in powers if p[2]["full_name"] != V2_REMOVED]
        idx = max(i for i, p in enumerate(powers)
                  if p[0] == "vanguard_melee" and p[1] == "ember_fists")
        powers.insert(idx + 1, ("vanguard_melee", "ember_fists",
                                make_power("vanguard_melee", "ember_fists", V2_ADDED),
                                V2_ADDED, True))
        for p in powers:
            if p[2]["full_name"] == V2_CHANGED[0]:
                p[2][V2_CHANGED[1]] = V2_CHANGED[2]
            p[2][V2_NEW_KEY[0]] = V2_NEW_KEY[1]

    global POWER_KEYS
    for _c, _p, pw, _s, _l in powers:
        keys = [k for k in pw if k != V2_NEW_KEY[0]]
        if POWER_KEYS is None:
            POWER_KEYS = keys
        assert keys == POWER_KEYS, pw["full_name"]

    # archetypes + tables
    for at in ARCHETYPES:
        files["archetypes/%s.json" % at] = (make_archetype(at), {})
        files["tables/%s.json" % at] = (make_tables_file(at), {})
    files["archetypes/index.json"] = ({"revision": REVISION, "player_archetypes": PLAYER_ATS,
                                       "npc_archetypes": NPC_ATS}, {})

    # powers
    for catdir, (catname, catdisp, cat_ats) in CATEGORIES.items():
        psdirs = sorted(ps for (c, ps) in POWERSETS if c == catdir)
        files["powers/%s/index.json" % catdir] = ({
            "name": catname,
            "display_name": catdisp,
            "source_file": "DEFS/POWERS/%s.CATEGORIES" % catname.upper(),
            "archetypes": cat_ats,
            "display_help": None,
            "display_short_help": None,
            "powerset_names": ["%s.%s" % (catdir, ps) for ps in psdirs],
            "powerset_display_names": [POWERSETS[(catdir, ps)]["display_name"]
                                       for ps in psdirs],
            "powersets_with_requirements": ["%s.%s" % (catdir, ps) for ps in psdirs
                                            if POWERSETS[(catdir, ps)].get("requires")],
        }, {})
        for psdir in psdirs:
            ps = POWERSETS[(catdir, psdir)]
            listed = [(pw, s) for c, p, pw, s, li in powers if c == catdir and p == psdir and li]
            files["powers/%s/%s/index.json" % (catdir, psdir)] = ({
                "name": ps["name"],
                "display_name": ps["display_name"],
                "display_fullname": "%s.%s" % (catname.replace("_", " "), ps["display_name"]),
                "display_help": ps["help"],
                "display_short_help": ps["short"],
                "available_level": [pw["available_level"] for pw, s in listed],
                "source_file": "DEFS/POWERS/%s/%s.POWERSETS" % (catname.upper(),
                                                                 ps["name"].upper()),
                "icon": ps["icon"],
                "requires": ps.get("requires", ""),
                "power_names": ["%s.%s.%s" % (catname, ps["name"], s.get("index_name",
                                                                         s["power"]))
                                for pw, s in listed],
                "power_display_names": [pw["display_name"] for pw, s in listed],
                "power_short_helps": [pw["display_short_help"] for pw, s in listed],
            }, {})
    for catdir, psdir, pw, s, li in powers:
        files["powers/%s/%s/%s.json" % (catdir, psdir, s["power"].lower())] = (pw, {})

    # enhancement sets
    sets = boost_sets()
    for bs in sets:
        files["boost_sets/%s.json" % bs["name"].lower()] = (bs, {})
    files["boost_sets/index.json"] = ({
        "revision": REVISION,
        "set_names": sorted(bs["name"].lower() for bs in sets),
        "set_display_names": [bs["display_name"]
                              for bs in sorted(sets, key=lambda b: b["name"].lower())],
    }, {})

    # tags: bears = powers whose effects carry the tag, affects = powers filtering on it
    by_tag = {}
    for catdir, psdir, pw, s, li in powers:
        pair = [pw["display_fullname"], pw["full_name"].lower()]
        for t in effect_tags(pw["effects"] + pw["activation_effects"], set()):
            by_tag.setdefault(t, ([], []))[0].append(pair)
        for t in filter_tags(pw["effects"] + pw["activation_effects"], set()):
            by_tag.setdefault(t, ([], []))[1].append(pair)
    for tag, (bears, affects) in sorted(by_tag.items()):
        bears = bears + DANGLING_TAG_REFS.get(tag, [])
        stale = STALE_TAG_DISPLAY.get(tag, {})
        bears = [[stale.get(b[1], b[0]), b[1]] for b in bears]
        obj = {"tag": tag, "bears": sorted(bears), "affects": sorted(affects)}
        opts = {}
        if tag in EMPTY_LIST_WITH_BLANK_LINE:
            opts["blank_empty_affects"] = True
        # the six real tag files without a trailing newline
        if tag == "Overcharge":
            opts["newline"] = False
        files["tags/" + tag_file_name(tag)] = (obj, opts)

    # exclusion and recharge groups (file name = lower(group name))
    for field in ("exclusion_groups", "recharge_groups"):
        groups = {}
        for catdir, psdir, pw, s, li in powers:
            for g in pw[field]:
                groups.setdefault(g, []).append([pw["display_fullname"],
                                                 pw["full_name"].lower()])
        for g, members in sorted(groups.items()):
            members = sorted(members + GROUP_DANGLING.get((field, g), []))
            files["%s/%s.json" % (field, g.lower())] = ({"group": g, "powers": members}, {})
    return files


def render(obj, opts):
    text = dumps(obj)
    if opts.get("blank_empty_affects"):
        text = text.replace('"affects": []', '"affects": [\n\n  ]')
    return text


def write_export(root, files, manifests=True):
    if os.path.exists(root):
        shutil.rmtree(root)
    sizes = {}
    for rel, (obj, opts) in sorted(files.items()):
        text = render(obj, opts)
        write_text(os.path.join(root, rel), text, newline=opts.get("newline", True))
        sizes[rel] = os.path.getsize(os.path.join(root, rel))
    if manifests:
        for rel, obj in make_manifests(sizes).items():
            # the real manifests have no trailing newline
            write_text(os.path.join(root, rel), dumps(obj), newline=False)
    return sizes


# Manifests are written before a later clean-up in the real export, so they list files that
# are gone. Ours do too: these entries name files that do not exist.
STALE_ENTRIES = {
    "archetypes": [("archetypes/boss_colossus.json", 402113)],
    "tables": [("tables/boss_colossus.json", 61022)],
    "tags": [("tags/colossusrage.json", 377)],
    "powers": [("powers/vanguard_melee/tidal_blade/riptide_cut_old.json", 21455)],
}


def make_manifests(sizes):
    def entry(rel, reason, layer, size=None):
        return {"source": rel, "reason": reason, "layer": layer, "copied_to": rel,
                "size_bytes": sizes[rel] if size is None else size}

    def reason_of(rel):
        top = rel.split("/")[0]
        if top == "powers":
            cat = rel.split("/")[1]
            return ("layer_1_explicit", 1) if cat == "pool" else ("layer_2_archetype_linked", 2)
        if top in ("archetypes", "boost_sets"):
            return ("layer_3_special_directory:" + top, 3)
        return ("metadata:" + top, 3)

    order = ["tables", "tags", "exclusion_groups", "recharge_groups", "archetypes", "powers",
             "boost_sets"]
    by_dir = {d: [] for d in order}
    for rel in sorted(sizes):
        top = rel.split("/")[0]
        r, layer = reason_of(rel)
        by_dir[top].append(entry(rel, r, layer))
    for d, lst in STALE_ENTRIES.items():
        for rel, size in lst:
            r, layer = reason_of(rel)
            by_dir[d].append(entry(rel, r, layer, size))
    kept = [e for d in order for e in by_dir[d]]
    excluded = [{"source": "powers/npc_drones/", "reason": "exclusion_pattern"},
                {"source": "powers/mini_testbed/", "reason": "no_match_review_needed"}]
    by_layer = {"1": 0, "2": 0, "3": 0}
    for e in kept:
        by_layer[str(e["layer"])] += 1
    cats = sorted({rel.split("/")[1] for rel in sizes if rel.startswith("powers/")})
    at_found = sorted(rel.split("/")[1][:-5] for rel in sizes
                      if rel.startswith("archetypes/") and not rel.endswith("index.json"))
    manifest = {
        "metadata": {
            "source_dir": "raw_data_" + REVISION,
            "filtered_date": "2025-01-02T09:30:00.000000",
            "total_source_files": len(kept) + len(excluded) + 40,
            "kept_files": len(kept),
            "excluded_files": len(excluded),
            "strategy_version": "v1.0",
            "epic": "0.1",
            "github_issue": "#1",
        },
        "filter_rules": {
            "explicit_categories": ["Pool"],
            "archetype_linked": ["Vanguard_MELEE", "Vanguard_Guard", "Warden_RANGED",
                                 "Warden_Support"],
            "special_directories": ["boost_sets", "archetypes"],
            "exclusion_patterns": ["Villain_*", "NPC_*"],
        },
        "kept_files": kept,
        "excluded_files": excluded,
        "statistics": {
            "by_layer": by_layer,
            "by_directory": {d: len(by_dir[d]) for d in order},
        },
        "validation": {
            "archetypes": {"expected": PLAYER_ATS, "found": at_found, "all_present": True,
                           "extra": [a for a in at_found if a not in PLAYER_ATS]},
            "power_categories": {"total_categories": len(cats), "has_pool": "pool" in cats,
                                 "has_epic": False, "has_inherent": False,
                                 "has_incarnate": False, "all_required_present": True,
                                 "sample_categories": cats},
            "boost_sets": {"present": True, "total_files": len(by_dir["boost_sets"])},
            "schema": {"files_checked": len([e for e in kept
                                             if e["source"].endswith("index.json")]),
                       "errors": [], "valid": True},
        },
    }
    meta = [e for d in ("tables", "tags", "exclusion_groups", "recharge_groups")
            for e in by_dir[d]]
    return {
        "manifest.json": manifest,
        "archetypes_manifest.json": {"directory": "archetypes",
                                     "total_files": len(by_dir["archetypes"]),
                                     "entries": by_dir["archetypes"]},
        "boost_sets_manifest.json": {"directory": "boost_sets",
                                     "total_files": len(by_dir["boost_sets"]),
                                     "entries": by_dir["boost_sets"]},
        "metadata_manifest.json": {"directory": "metadata", "total_files": len(meta),
                                   "entries": meta},
        "powers_manifest.json": {
            "directory": "powers",
            "total_files": len(by_dir["powers"]),
            "kept_categories": [{"category": c, "reason": reason_of("powers/%s/x" % c)[0],
                                 "layer": reason_of("powers/%s/x" % c)[1]} for c in cats],
            "excluded_categories": [{"category": "npc_drones", "reason": "exclusion_pattern"},
                                    {"category": "mini_testbed",
                                     "reason": "no_match_review_needed"}],
            "entries": by_dir["powers"],
        },
    }


# ---------------------------------------------------------------------------------------------
# Builds
# ---------------------------------------------------------------------------------------------

BUILD_REMOVED_IN_V2 = V2_REMOVED


def make_builds():
    def p(power, level, *enh):
        return {"power": power, "level": level,
                "enhancements": [{"enhancement": e, "level": l} for e, l in enh]}
    return {"builds": [
        {"name": "Tidecaller Mk I", "owner": "alice", "archetype": "vanguard",
         "created": "2025-01-05T18:22:10Z", "powers": [
             p("Vanguard_Melee.Tidal_Blade.Riptide_Cut", 1, ("crafted_tidebreaker_a", 30),
               ("crafted_tidebreaker_b", 30), ("crafted_tidebreaker_c", 30),
               ("crafted_tidebreaker_d", 35)),
             p("Vanguard_Guard.Bastion_Plating.Iron_Skin", 1),
             p("Vanguard_Melee.Tidal_Blade.Undertow_Slash", 2, ("attuned_tidebreaker_a", 50),
               ("attuned_tidebreaker_c", 50)),
             p("Pool.Skyrunning.Quickstep", 4),
             p("Vanguard_Melee.Tidal_Blade.Build_Momentum", 6),
             p("Vanguard_Melee.Tidal_Blade.Crashing_Wave", 8),
             p("Vanguard_Guard.Bastion_Plating.Hold_the_Line", 10),
             p("Pool.Skyrunning.Cloud_Stride", 16),
             p("Vanguard_Melee.Tidal_Blade.Tsunami_Strike", 26, ("crafted_tidebreaker_a", 40),
               ("crafted_tidebreaker_d", 40)),
         ]},
        {"name": "Cinder Brawler", "owner": "bob", "archetype": "vanguard",
         "created": "2025-01-06T07:03:44Z", "powers": [
             p("Vanguard_Melee.Ember_Fists.Cinder_Jab", 1, ("crafted_tidebreaker_a", 27)),
             p("Vanguard_Guard.Bastion_Plating.Riveted_Frame", 1),
             # removed in export-mini-v2: the retire-while-referenced case
             p(BUILD_REMOVED_IN_V2, 2, ("crafted_tidebreaker_b", 27),
               ("crafted_tidebreaker_c", 27)),
             p("Vanguard_Melee.Ember_Fists.Smolder_Aura", 10),
             p("Vanguard_Guard.Bastion_Plating.Second_Wind", 18),
             p("Vanguard_Melee.Ember_Fists.Kindle", 20),
         ]},
        {"name": "Storm Warden", "owner": "carol", "archetype": "warden",
         "created": "2025-01-07T12:45:00Z", "powers": [
             p("Warden_Ranged.Static_Bolts.Spark_Dart", 1, ("crafted_stormcallers_grace_a", 20),
               ("crafted_stormcallers_grace_b", 20), ("crafted_stormcallers_grace_d", 25)),
             p("Warden_Support.Mending_Tides.Tidal_Mend", 1, ("attuned_wardens_resolve_a", 50),
               ("attuned_wardens_resolve_b", 50)),
             p("Warden_Ranged.Static_Bolts.Arc_Lance", 2, ("attuned_stormcallers_grace_c", 40)),
             p("Warden_Ranged.Static_Bolts.Chain_Flicker", 4),
             p("Pool.Skyrunning.Updraft", 6),
             # the powerset index spells this one "Ion_DeCharge"; builds use full_name
             p("Warden_Ranged.Static_Bolts.Ion_Decharge", 16,
               ("crafted_stormcallers_grace_a", 40), ("crafted_stormcallers_grace_c", 40)),
             p("Warden_Ranged.Static_Bolts.Thunderhead", 26),
         ]},
        {"name": "Ember Sentinel", "owner": "dave", "archetype": "warden",
         "created": "2025-01-08T21:10:31Z", "powers": [
             p("Warden_Ranged.Ember_Fists.Ember_Toss", 1, ("crafted_stormcallers_grace_a", 22)),
             p("Warden_Support.Mending_Tides.Tidal_Mend", 1),
             # same "name" and powerset name as Vanguard_Melee.Ember_Fists.Cinder_Jab
             p("Warden_Ranged.Ember_Fists.Cinder_Jab", 2, ("crafted_stormcallers_grace_b", 22)),
             p("Warden_Support.Mending_Tides.Undertow_Snare", 4),
             p("Warden_Support.Mending_Tides.Calm_Waters", 8, ("attuned_wardens_resolve_c", 50)),
             p("Warden_Ranged.Ember_Fists.Heat_Mirage", 10),
             p("Pool.Skyrunning.Tailwind", 20),
         ]},
    ]}


# ---------------------------------------------------------------------------------------------
# Bad-input corpus
# ---------------------------------------------------------------------------------------------

MIN_CAT, MIN_PS = "vanguard_melee", "tidal_blade"
MIN_POWERS = ["Riptide_Cut", "Build_Momentum"]


def minimal_files():
    """1 archetype, 1 category, 1 powerset, 2 powers; other directories absent."""
    full = build_export("mini")
    files = {}
    files["archetypes/vanguard.json"] = full["archetypes/vanguard.json"]
    files["tables/vanguard.json"] = full["tables/vanguard.json"]
    files["archetypes/index.json"] = ({"revision": REVISION,
                                       "player_archetypes": ["vanguard"],
                                       "npc_archetypes": []}, {})
    cat = copy.deepcopy(full["powers/%s/index.json" % MIN_CAT][0])
    cat["powerset_names"] = ["%s.%s" % (MIN_CAT, MIN_PS)]
    cat["powerset_display_names"] = [POWERSETS[(MIN_CAT, MIN_PS)]["display_name"]]
    files["powers/%s/index.json" % MIN_CAT] = (cat, {})
    ps = copy.deepcopy(full["powers/%s/%s/index.json" % (MIN_CAT, MIN_PS)][0])
    keep = [i for i, n in enumerate(ps["power_names"]) if n.split(".")[-1] in MIN_POWERS]
    for k in ("available_level", "power_names", "power_display_names", "power_short_helps"):
        ps[k] = [ps[k][i] for i in keep]
    files["powers/%s/%s/index.json" % (MIN_CAT, MIN_PS)] = (ps, {})
    for n in MIN_POWERS:
        rel = "powers/%s/%s/%s.json" % (MIN_CAT, MIN_PS, n.lower())
        files[rel] = full[rel]
    files["boost_sets/index.json"] = ({"revision": REVISION, "set_names": [],
                                       "set_display_names": []}, {})
    return files


def line_col(data, offset):
    before = data[:offset]
    line = before.count(b"\n") + 1
    col = offset - (before.rfind(b"\n") + 1) + 1
    return line, col


def build_bad(root):
    if os.path.exists(root):
        shutil.rmtree(root)
    cases = []  # (name, file, json path, problem, expected)
    pdir = "powers/%s/%s/" % (MIN_CAT, MIN_PS)
    power_a = pdir + "riptide_cut.json"
    power_b = pdir + "build_momentum.json"

    def base(case):
        d = os.path.join(root, case)
        write_export(d, minimal_files(), manifests=False)
        return d

    def read(d, rel):
        with open(os.path.join(d, rel), "rb") as f:
            return f.read()

    # invalid-json: drop the comma after "type": "Click" in a power file
    d = base("invalid-json")
    data = read(d, power_b)
    needle = b'"type": "Click",'
    off = data.index(needle) + len(needle) - 1
    data = data[:off] + data[off + 1:]
    write_bytes(os.path.join(d, power_b), data)
    nxt = data.index(b'"display_name"', off)
    ln, col = line_col(data, nxt)
    cases.append(("invalid-json", power_b, "$.type",
                  "syntax error: missing ',' between \"type\" and \"display_name\"; the next "
                  "token starts at line %d, column %d (byte offset %d)" % (ln, col, nxt),
                  "error for this file (parse error with file and position); the other power "
                  "imports; the run goes on"))

    # truncated: cut the file in the middle of a string value
    d = base("truncated")
    data = read(d, power_a)
    cut = data.index(b'"display_help": "') + len(b'"display_help": "') + 12
    write_bytes(os.path.join(d, power_a), data[:cut])
    cases.append(("truncated", power_a, "$.display_help",
                  "file ends after %d bytes, inside the string value of display_help "
                  "(original size %d bytes)" % (cut, len(data)),
                  "error: unexpected end of input / unterminated string, with the file path; "
                  "never a partial row"))

    # wrong-type: accuracy is a string; power_names is an object
    d = base("wrong-type")
    files = minimal_files()
    pw = copy.deepcopy(files[power_a][0])
    pw["accuracy"] = "1.05"
    write_text(os.path.join(d, power_a), dumps(pw))
    ps = copy.deepcopy(files[pdir + "index.json"][0])
    ps["power_names"] = {str(i): n for i, n in enumerate(ps["power_names"])}
    write_text(os.path.join(d, pdir + "index.json"), dumps(ps))
    cases.append(("wrong-type", power_a, "$.accuracy",
                  'expected a number, found the string "1.05"',
                  "type error for the field (no silent conversion of \"1.05\")"))
    cases.append(("wrong-type", pdir + "index.json", "$.power_names",
                  "expected an array of strings, found an object "
                  '{"0": ..., "1": ...}',
                  "type error; the powerset's power list cannot be checked, so the index/"
                  "files consistency check reports it instead of crashing"))

    # missing-key: no full_name (the natural key)
    d = base("missing-key")
    pw = copy.deepcopy(minimal_files()[power_b][0])
    del pw["full_name"]
    write_text(os.path.join(d, power_b), dumps(pw))
    cases.append(("missing-key", power_b, "$.full_name",
                  "required key full_name (the natural key of powers) is missing",
                  "error naming the missing key; the file is not imported (no row with an "
                  "empty or NULL key)"))

    # invalid-utf8 in display_help
    d = base("invalid-utf8")
    data = read(d, power_a)
    marker = b"A quick slash of hardened water."
    bad = b"A quick slash of \xff\xfe hardened \xc3\x28 water \xed\xa0\x80 (surrogate)."
    off = data.index(marker) + len(b"A quick slash of ")
    data = data.replace(marker, bad)
    write_bytes(os.path.join(d, power_a), data)
    cases.append(("invalid-utf8", power_a, "$.display_help",
                  "invalid UTF-8: 0xFF 0xFE at byte offset %d, then a bad continuation "
                  "(0xC3 0x28) and an encoded UTF-16 surrogate (0xED 0xA0 0x80)" % off,
                  "error (PostgreSQL rejects invalid UTF-8 in text and jsonb); the offset or "
                  "the JSON path in the message"))

    # long-string: 2 MiB display_help (valid, but large)
    d = base("long-string")
    pw = copy.deepcopy(minimal_files()[power_a][0])
    unit = "The tide turns, the blade returns. "
    size = 2 * 1024 * 1024
    pw["display_help"] = (unit * (size // len(unit) + 1))[:size]
    write_text(os.path.join(d, power_a), dumps(pw))
    cases.append(("long-string", power_a, "$.display_help",
                  "a valid string of exactly %d bytes (2 MiB, ASCII)" % size,
                  "either imported intact (length checked after the round trip through "
                  "raw jsonb) or rejected with a clear 'value too long' error naming the file "
                  "and path; never silently truncated, never a crash or an unbounded buffer"))

    # duplicate-key: a third power file whose full_name repeats riptide_cut.json's
    d = base("duplicate-key")
    pw = copy.deepcopy(minimal_files()[power_a][0])
    pw["display_help"] = "A copy of Riptide Cut saved under another file name."
    dup = pdir + "riptide_cut_copy.json"
    write_text(os.path.join(d, dup), dumps(pw))
    cases.append(("duplicate-key", dup, "$.full_name",
                  'same full_name "%s" as %s' % (pw["full_name"], power_a),
                  "duplicate natural key error naming both files (validation: 'nothing is "
                  "duplicated'); the file is also not listed in the powerset index"))

    # unknown-dir
    d = base("unknown-dir")
    write_text(os.path.join(d, "widgets/sprocket.json"),
               dumps({"widget": "Sprocket", "teeth": 12}))
    cases.append(("unknown-dir", "widgets/sprocket.json", "$",
                  "a directory the export layout does not define",
                  "warning 'unknown directory widgets/ (1 file skipped)'; the rest imports "
                  "normally; nothing is read from widgets/"))

    # empty: nothing but a dotfile (git keeps no empty directories)
    d = os.path.join(root, "empty")
    write_bytes(os.path.join(d, ".keep"), b"")
    cases.append(("empty", "(directory)", "-",
                  "no export files at all; only .keep, which is a dotfile",
                  "error 'empty export: no archetypes/ or powers/ found'; the importer "
                  "ignores dotfiles (.keep must not be reported as an unknown file); "
                  "production data untouched"))

    # spaces-percent: a valid tag file named with spaces and '%'
    d = base("spaces-percent")
    files = minimal_files()
    pairs = sorted([files[r][0]["display_fullname"], files[r][0]["full_name"].lower()]
                   for r in (power_a, power_b))
    tag = "50% Chance of X"
    write_text(os.path.join(d, "tags", tag_file_name(tag)),
               dumps({"tag": tag, "bears": pairs, "affects": []}))
    cases.append(("spaces-percent", "tags/" + tag_file_name(tag), "$",
                  "nothing: a valid tag file whose name has spaces and '%'",
                  "imports with no error (the control case); the path survives quoting, "
                  "logging and printf-style formatting ('%' must never reach a format string)"))

    # --- additional cases --------------------------------------------------------------------
    # duplicate-object-key: the same key twice in one JSON object (cJSON keeps both and returns
    # the first; Python keeps the last)
    d = base("duplicate-object-key")
    data = read(d, power_a)
    needle = b'  "accuracy": 1.05,\n'
    off = data.index(needle)
    data = data[:off] + needle + b'  "accuracy": 9.5,\n' + data[off + len(needle):]
    write_bytes(os.path.join(d, power_a), data)
    ln, _ = line_col(data, off + len(needle))
    cases.append(("duplicate-object-key", power_a, "$.accuracy",
                  "key accuracy appears twice in the same object (1.05, then 9.5 on line %d)"
                  % ln,
                  "error (or at least a warning) 'duplicate key accuracy'; parsers disagree "
                  "on which value wins, so it must not be imported silently"))

    # nul-char: \u0000 inside a string (C strings end there; PostgreSQL text refuses it)
    d = base("nul-char")
    pw = copy.deepcopy(minimal_files()[power_b][0])
    pw["display_help"] = "Gather yourself\u0000 for a few seconds."
    write_text(os.path.join(d, power_b), dumps(pw))
    cases.append(("nul-char", power_b, "$.display_help",
                  "valid JSON with the escape \\u0000 inside the string",
                  "error 'NUL character not allowed' (PostgreSQL text and jsonb reject it); "
                  "never silently cut at the NUL"))

    # deep-nesting: effects -> child_effects 600 levels deep (1200+ JSON nesting levels;
    # cJSON's default CJSON_NESTING_LIMIT is 1000)
    d = base("deep-nesting")
    pw = copy.deepcopy(minimal_files()[power_b][0])
    node = effect([])
    for _ in range(600):
        node = effect([], children=[node])
    pw["effects"] = [node]
    # compact, on one line: indented, the file would grow to 12 MB
    write_text(os.path.join(d, power_b), json.dumps(pw, ensure_ascii=False).replace(
        "3.4028234663852886e+38", "3.4028234663852886e38"))
    cases.append(("deep-nesting", power_b, "$.effects[0].child_effects[0]...",
                  "child_effects nested 601 levels deep (over 1200 JSON nesting levels); "
                  "the file is written compactly on one line",
                  "error 'nesting too deep' for this file; no stack overflow"))

    # utf8-bom: the file starts with EF BB BF
    d = base("utf8-bom")
    data = read(d, power_b)
    write_bytes(os.path.join(d, power_b), b"\xef\xbb\xbf" + data)
    cases.append(("utf8-bom", power_b, "$",
                  "a UTF-8 byte order mark before the opening '{'",
                  "either skipped (and the file imports) or an error at byte 0 naming the "
                  "BOM; pick one and test it"))

    write_text(os.path.join(root, "README.md"), bad_readme(cases), newline=False)
    return cases


def bad_readme(cases):
    out = []
    out.append("# Bad-input corpus\n")
    out.append("Generated by `../gen-export-mini.py` (do not edit by hand: byte offsets and "
               "line numbers below are computed). Each directory is a whole export. Except "
               "`empty`, each one is the same minimal export with one kind of fault "
               "(`wrong-type` has two instances of it, in two files):\n")
    out.append("- `archetypes/vanguard.json`, `archetypes/index.json`, `tables/vanguard.json`")
    out.append("- `powers/%s/index.json`, `powers/%s/%s/index.json`" % (MIN_CAT, MIN_CAT,
                                                                        MIN_PS))
    out.append("- 2 powers: `powers/%s/%s/riptide_cut.json`, `.../build_momentum.json`"
               % (MIN_CAT, MIN_PS))
    out.append("- `boost_sets/index.json` with empty lists\n")
    out.append("The minimal export has no `tags/`, `exclusion_groups/`, `recharge_groups/` "
               "directories and no manifests: an importer must accept their absence. It has "
               "one dangling reference, on purpose and the same in every case: the archetype's "
               "`secondary_category` (`Vanguard_Guard`) names a category that is not there. "
               "That is a warning (dangling references are warnings with counts), never an "
               "error. The archetype, table and power files that are not the fault are "
               "byte-identical to the ones in `export-mini/`, so git stores them once.\n")
    out.append("Paths are relative to the case directory. JSON paths use `$` for the root.\n")
    out.append("| case | file | JSON path | what is wrong | expected |")
    out.append("| --- | --- | --- | --- | --- |")
    for name, f, path, what, exp in cases:
        out.append("| `%s` | `%s` | `%s` | %s | %s |" % (name, f, path, what.replace("|", "\\|"),
                                                      exp.replace("|", "\\|")))
    out.append("")
    out.append("The first ten cases are the required set; `duplicate-object-key`, `nul-char`, "
               "`deep-nesting` and `utf8-bom` are additional traps of a C importer with cJSON "
               "and PostgreSQL.\n")
    out.append("In every failing case the expected behaviour of `import` is the one of the "
               "architecture: the error goes to `ops.import_errors` with the file path and the "
               "JSON path, the run goes on with the other files (bounded by `--max-errors`), "
               "and validation keeps production untouched when an entity is broken. "
               "`export-validate` must report the same errors without touching the database.\n")
    out.append("## Cases that git cannot store\n")
    out.append("Tests create these at run time in `$TEST_TMP`, from a copy of any case above "
               "(usually `spaces-percent`, the valid control):\n")
    out.append("- **symlink loop**: `ln -s . powers/vanguard_melee/loop` (and a pair "
               "`a -> b`, `b -> a`). Expected: the scanner does not follow directory "
               "symlinks (or detects the cycle by device/inode), reports a warning, and "
               "terminates.")
    out.append("- **dangling symlink**: `ln -s missing.json powers/.../ghost.json`. Expected: "
               "an error for that path, the run goes on.")
    out.append("- **unreadable file**: `chmod 000` on one power file (skip the test when "
               "running as root, which can read it anyway). Expected: an error with the path "
               "and `Permission denied`, the run goes on.")
    out.append("- **unreadable directory**: `chmod 000` on a powerset directory. Expected: an "
               "error for the directory, the other powersets import.")
    out.append("- **file changing during the scan**: append to a file between scan and "
               "stage. Expected: the size/sha256 recorded in `ops.import_files` is the one of "
               "the bytes actually parsed.")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------


def main():
    sys.setrecursionlimit(20000)  # the deep-nesting case goes 1200+ levels deep
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["mini", "v2", "bad", "builds"])
    args = ap.parse_args()
    todo = [args.only] if args.only else ["mini", "v2", "builds", "bad"]
    if "mini" in todo:
        sizes = write_export(os.path.join(HERE, "export-mini"), build_export("mini"))
        print("export-mini: %d files" % (len(sizes) + 5))
    if "v2" in todo:
        sizes = write_export(os.path.join(HERE, "export-mini-v2"), build_export("v2"))
        print("export-mini-v2: %d files" % (len(sizes) + 5))
    if "builds" in todo:
        write_text(os.path.join(HERE, "builds-mini.json"), dumps(make_builds()))
        print("builds-mini.json: %d builds" % len(make_builds()["builds"]))
    if "bad" in todo:
        cases = build_bad(os.path.join(HERE, "bad"))
        print("bad: %d cases" % len({c[0] for c in cases}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
