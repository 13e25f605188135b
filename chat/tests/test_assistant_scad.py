"""Requirements → OpenSCAD → STL rendered with --hardwarnings → the mesh measured against what
was asked (seed 001: 160 mm motor-to-motor, 3 mm arms). Few renders at a modest $fn, shared."""

import math

import pytest
from django.test import override_settings

from chat.assistant.checks import mesh_check, scad_render_stl
from chat.assistant.local import requirements_extract
from chat.assistant.scad import design_reply, scad_design
from mozukai_hub.api.errors import ApplicationError
from pipeline.engines import EngineError
from pipeline.engines.scad.render import scad_source_check

from .test_assistant_requirements import SEED_REQUIREMENTS

FRAME_250 = {
    "model_type": "quadcopter_frame",
    "primary_function": "A 5-inch class racing frame",
    "standard_components": [{"name": "Motors", "search_term": "2306 motors"},
                            {"name": "Flight controller", "search_term": "30.5x30.5 stack"}],
    "custom_description": "250 mm motor-to-motor, 4 mm thick arms",
}
ENCLOSURE = {
    "model_type": "enclosure",
    "primary_function": "An enclosure for electronics",
    "custom_description": "inner size 60 x 40 x 25 mm, 2 mm walls, with a lid, M2.5 screws",
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Each design rendered once: name → (design, stl path)."""
    out = {}
    with override_settings(OPENSCAD_MAX_FN=16):  # round parts stay polygons with exact vertices; renders stay quick
        for name, requirements in (("seed", SEED_REQUIREMENTS), ("frame_250", FRAME_250), ("enclosure", ENCLOSURE)):
            design = scad_design(requirements)
            out[name] = (design, scad_render_stl(source=design.source, workdir=tmp_path_factory.mktemp(name)))
    return out


def test_seed_requirements_give_a_frame_160_mm_motor_to_motor_with_3_mm_arms(rendered):
    design, stl = rendered["seed"]
    assert design.template == "quadcopter_frame"
    assert design.parameters["span"] == 160 and design.parameters["arm_t"] == 3 and design.parameters["fc"] == 20
    assert design.expected["motor_spacing_mm"] == 160 and design.expected["arm_thickness_mm"] == 3
    # The footprint: motor centres on a 160 / √2 mm square plus one motor pad.
    side = 160 / math.sqrt(2) + design.parameters["motor_d"]
    assert design.expected_bbox_mm == pytest.approx((side, side, 3), abs=0.001)

    report = mesh_check(stl, design)
    assert report["ok"] and report["watertight"] and report["bbox_within_2pct"]
    assert report["bbox_mm"] == pytest.approx(list(design.expected_bbox_mm), abs=0.01)
    assert report["volume_mm3"] > 0
    checks = report["checks"]
    assert checks["motor_spacing_mm"]["measured"] == pytest.approx(160, rel=0.02) and checks["motor_spacing_mm"]["ok"]
    assert checks["arm_thickness_mm"]["measured"] == pytest.approx(3, abs=0.1) and checks["arm_thickness_mm"]["ok"]
    assert checks["arm_width_mm"]["measured"] == pytest.approx(8, abs=0.1)
    assert checks["fc_mount_mm"]["measured"] == pytest.approx(20, abs=0.1)

    reply = design_reply(design, report)
    assert reply.startswith(f"Here is your quadcopter frame, {round(side, 1):g} × {round(side, 1):g} × 3 mm.")
    assert "it is watertight" in reply and "motor centres 160 mm apart diagonally (asked 160 mm)" in reply
    assert "arms 3 mm thick (asked 3 mm)" in reply


def test_a_250_mm_frame_with_a_30_5_stack_and_22xx_motors(rendered):
    design, stl = rendered["frame_250"]
    p = design.parameters
    assert (p["span"], p["arm_t"], p["fc"], p["fc_screw"]) == (250, 4, 30.5, "M3")
    assert (p["motor_a"], p["motor_b"], p["motor_screw"]) == (16, 19, "M3")
    report = mesh_check(stl, design.as_dict())  # the design as the chat stores it
    assert report["ok"], report
    assert report["checks"]["motor_spacing_mm"]["measured"] == pytest.approx(250, rel=0.02)
    assert report["checks"]["arm_thickness_mm"]["measured"] == pytest.approx(4, abs=0.1)
    assert report["checks"]["fc_mount_mm"]["measured"] == pytest.approx(30.5, abs=0.1)
    assert report["bbox_mm"][0] == pytest.approx(250 / math.sqrt(2) + p["motor_d"], rel=0.02)


def test_an_enclosure_of_the_inner_size_asked_with_its_lid(rendered):
    design, stl = rendered["enclosure"]
    assert design.parameters["screw"] == "M2.5" and design.parameters["lid"] == 1
    assert design.expected_bbox_mm == (2 * 64 + 5, 44, 27)  # box and lid side by side; walls and floor added
    report = mesh_check(stl, design)
    assert report["ok"], report
    for name, size in (("inner_width_mm", 60), ("inner_depth_mm", 40), ("inner_height_mm", 25), ("wall_thickness_mm", 2),
                       ("floor_thickness_mm", 2)):
        assert report["checks"][name]["measured"] == pytest.approx(size, abs=0.1), name
    assert "inside width 60 mm (asked 60 mm)" in design_reply(design, report)


def test_a_mesh_that_is_not_the_design_fails_the_checks(rendered):
    seed_design, seed_stl = rendered["seed"]
    frame_design, _ = rendered["frame_250"]
    report = mesh_check(seed_stl, frame_design)
    assert not report["ok"] and not report["bbox_within_2pct"] and report["watertight"]
    assert not report["checks"]["motor_spacing_mm"]["ok"]
    assert report["checks"]["motor_spacing_mm"]["measured"] == pytest.approx(160, rel=0.02)
    assert not report["checks"]["arm_thickness_mm"]["ok"] and not report["checks"]["fc_mount_mm"]["ok"]
    reply = design_reply(frame_design, report)
    assert "the checks found a problem" in reply and "motor centres 160 mm apart diagonally (asked 250 mm)" in reply

    # Thicker arms than designed: same footprint, the arm check and the bounding box's Z fail.
    thicker = {**seed_design.as_dict(), "expected_bbox_mm": [*seed_design.expected_bbox_mm[:2], 4],
               "expected": {**seed_design.expected, "arm_thickness_mm": 4}}
    report = mesh_check(seed_stl, thicker)
    assert not report["ok"] and not report["checks"]["arm_thickness_mm"]["ok"] and report["checks"]["motor_spacing_mm"]["ok"]


def test_a_plate_is_not_a_frame(tmp_path, rendered):
    """A flat plate of the frame's thickness has no motor pads to find: the check fails, it does not crash."""
    seed_design, _ = rendered["seed"]
    plate = scad_render_stl(source="cube([136, 136, 3]);", workdir=tmp_path)
    report = mesh_check(plate, seed_design)
    assert report["watertight"] and report["bbox_within_2pct"] and not report["ok"]
    assert report["checks"]["motor_spacing_mm"] == {"expected": 160, "measured": None, "tolerance": "2%", "ok": False}
    assert "the checks found a problem" in design_reply(seed_design, report)
    assert "I could not check it: The render produced no STL." in design_reply(seed_design, {"ok": False, "error": "The render produced no STL."})


@pytest.mark.parametrize(
    "source, error",
    [
        ("missing_part(3);\ncube(2);", "OpenSCAD failed"),  # an unknown module: an error, not a cube alone
        ("cube(size);", "OpenSCAD failed"),  # an unknown variable
        ("cube(0);", "OpenSCAD failed"),  # nothing to print
        ('import("/etc/passwd");', "include, use, import*, surface, dxf_* and file= are not allowed."),
    ],
)
def test_renders_stop_at_warnings(tmp_path, source, error):
    with pytest.raises(EngineError) as failure:
        scad_render_stl(source=source, workdir=tmp_path)
    assert failure.value.error_type == "scad_error" and error in str(failure.value)
    assert not (tmp_path / "model.stl").exists() or (tmp_path / "model.stl").stat().st_size == 0


def test_prop_size_sets_the_motor_spacing_when_none_is_given():
    design = scad_design({"model_type": "drone", "custom_description": "for 5 inch props"})
    assert design.parameters["span"] == pytest.approx(215.5)
    assert design.notes == ["Motor centres sit 215.5 mm apart diagonally (152.4 mm between neighbours).",
                            "5-inch props leave 25 mm between neighbouring tips."]
    with pytest.raises(ApplicationError, match="5-inch props need at least 186 mm motor-to-motor") as failure:
        scad_design({"model_type": "drone", "custom_description": "5 inch props, 160 mm motor-to-motor"})
    assert failure.value.code == "bad_dimensions"


def test_the_dimensions_on_the_card_win_over_the_text():
    edited = {**SEED_REQUIREMENTS, "dimensions": [
        {"name": "arm_thickness", "value": 4, "unit": "mm"}, {"name": "motor_to_motor", "value": 20, "unit": "cm"},
        {"name": "seat_height", "value": 45, "unit": "cm"},
    ]}
    design = scad_design(edited)
    assert design.parameters["arm_t"] == 4 and design.parameters["span"] == 200
    assert design.expected["arm_thickness_mm"] == 4 and design.expected["motor_spacing_mm"] == 200
    assert design.notes[0] == "A quadcopter frame has no size called “seat_height”; it was not used."


def test_what_the_extractor_understood_is_what_gets_built():
    for content in ["a 5 inch freestyle quad with 2207 motors and a 30.5x30.5 stack", "an enclosure for a Raspberry Pi with a lid",
                    "project box, inside 10 x 6 x 4 cm, 2.5 mm walls", "a bracket 30 mm wide, 5 mm thick, for M4 screws"]:
        requirements = requirements_extract(content, [])
        design = scad_design(requirements)
        for dim in requirements["dimensions"]:
            if dim["name"] == "inner_width":
                assert design.expected["inner_width_mm"] == pytest.approx(dim["value_mm"]), content
            elif dim["name"] == "motor_to_motor":
                assert design.parameters["span"] == pytest.approx(dim["value_mm"]), content
        assert scad_source_check(design.source) == [], content


def test_requirements_without_a_model_are_refused():
    with pytest.raises(ApplicationError) as failure:
        scad_design({"model_type": "dragon", "custom_description": "with wings"})
    assert failure.value.code == "unsupported_model" and "quadcopter frame" in failure.value.message
