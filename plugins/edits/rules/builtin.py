"""The builtin rule-derived edit types, registered through ``instructgen_rule_types``
like any plugin's, in the order one item's records are made."""

from __future__ import annotations

from instructgen.plugins.anyedit.contract import (
    CONDITION_OBJECT,
    EDITED_FILE,
    EDITED_OBJECT,
    NEW_OBJECT,
    Key,
    optional,
)

from . import payloads as p
from .context import RuleType
from .from_records import (
    CONDITIONS,
    condition_rule,
    material_change,
    material_transfer,
    movement,
    resize,
    visual_reference,
)
from .from_scenes import counting, outpainting, relation, rotation_change, style_change

_DIRECTION = "direction"
_AFTER_STAGE = ("comes after AnyEdit's remove/replace image stage: made from that stage's "
                "output JSON (source `anyedit_records`)")

BUILTIN_RULE_TYPES: tuple[RuleType, ...] = (
    RuleType(name="counting", rule=counting, payload=p.Counting,
             description="remove k of the N instances of an object (true COCO counts, or a "
                         "number before a plural noun in the caption)",
             anyedit=(EDITED_OBJECT, Key("remove_number", "remove_number", kind="int",
                                         meaning="how many instances to remove"))),
    RuleType(name="movement", rule=movement, payload=p.Movement,
             description="move the object of a remove record somewhere else in the image",
             anyedit=(EDITED_OBJECT,)),
    RuleType(name="resize", rule=resize, payload=p.Resize,
             description="make the object of a remove record larger or smaller",
             anyedit=(EDITED_OBJECT,)),
    RuleType(name="visual_reference", rule=visual_reference, payload=p.VisualReference,
             description="replace an object with the one in a reference image, named [V*] "
                         "(from replace records)",
             anyedit=(EDITED_OBJECT,
                      Key("visual_input", "visual_input", meaning="path of the reference image"),
                      Key("ref_object", "ref_object",
                          meaning="category of the reference object")),
             anyedit_note="the edit names the reference [V*]; new object is not written"),
    RuleType(name="visual_material_transfer", rule=material_transfer,
             payload=p.MaterialTransfer,
             description="give an object the material of an exemplar image (from replace "
                         "records and a material list)",
             anyedit=(EDITED_OBJECT,
                      Key("visual_input", "visual_input",
                          meaning="path of the material exemplar image"),
                      Key("material", "material", required=False,
                          meaning="the exemplar's material"))),
    RuleType(name="material_change", rule=material_change, payload=p.MaterialChange,
             description="change an object's material by name (from remove records and a "
                         "material list)",
             anyedit=(EDITED_OBJECT, Key("material", "material", required=False,
                                         meaning="the material category"))),
    *(RuleType(name=name, rule=condition_rule(name), payload=p.VisualCondition,
               description=f"remove or replace an object following a {what} drawn from "
                           "AnyEdit's remove/replace image stage",
               anyedit=(CONDITION_OBJECT, EDITED_FILE, optional(NEW_OBJECT)),
               anyedit_note=_AFTER_STAGE, after_image_stage=True)
      for name, what in CONDITIONS.items()),
    RuleType(name="style_change", rule=style_change, payload=p.StyleChange,
             description="render the whole picture in a style from a list"),
    RuleType(name="relation", rule=relation, payload=p.Relation,
             description="swap two objects, or move one beside another or to one side "
                         "(from COCO instance boxes)",
             anyedit=(EDITED_OBJECT,
                      Key("target object", "target_object", required=False,
                          meaning="the reference object (absent for a plain move)"),
                      Key(_DIRECTION, _DIRECTION, meaning="swap, left, right, down or upper"))),
    RuleType(name="rotation_change", rule=rotation_change, payload=p.RotationChange,
             description="turn an object clockwise or counterclockwise",
             anyedit=(EDITED_OBJECT, Key(_DIRECTION, _DIRECTION, required=False,
                                         meaning="clockwise or counterclockwise")),
             anyedit_note="the edit says clockwise or counterclockwise"),
    RuleType(name="outpainting", rule=outpainting, payload=p.Outpainting,
             description="extend the canvas of the whole scene in one direction",
             anyedit=(Key(_DIRECTION, _DIRECTION, required=False,
                          meaning="where the canvas grows"),)),
)
