"""The local assistant's requirements: reading sizes, parts and models from what people write,
refining across messages, the reply, and validating requirements a client sends."""

import pytest
from django.core.exceptions import ValidationError

from chat.assistant.local import requirements_clean, requirements_extract, requirements_reply
from pipeline.engines.scad.requirements import requirements_from_prompt
from pipeline.engines.scad.templates import model_from_requirements

# Seed 001's requirements_json example.
SEED_REQUIREMENTS = {
    "model_type": "drone",
    "primary_function": "A small quadcopter frame for hobby use",
    "description_natural_language": "A compact central body with four arms equally spaced...",
    "standard_components": [{"name": "Flight controller", "search_term": "stack 20x20 mm"}],
    "custom_description": "Use 3 mm thick arms, 160 mm motor-to-motor...",
}


def dims(requirements: dict) -> dict:
    return {d["name"]: (d["value"], d["unit"], d["value_mm"], d["source"]) for d in requirements["dimensions"]}


def terms(requirements: dict) -> list[str]:
    return [c["search_term"] for c in requirements["standard_components"]]


@pytest.mark.parametrize(
    "content, expected",
    [
        ("small quadcopter frame, 3 mm thick arms, 160 mm motor-to-motor",
         {"motor_to_motor": (160, "mm", 160, "stated"), "arm_thickness": (3, "mm", 3, "stated"), "arm_width": (8, "mm", 8, "assumed")}),
        ("Use 3mm thick arms and 16 cm motor to motor on my drone",
         {"motor_to_motor": (16, "cm", 160, "stated"), "arm_thickness": (3, "mm", 3, "stated")}),
        ("a quad frame with arms 4 mm thick, motor-to-motor of 250 mm and 12 mm wide arms",
         {"motor_to_motor": (250, "mm", 250, "stated"), "arm_thickness": (4, "mm", 4, "stated"), "arm_width": (12, "mm", 12, "stated")}),
        ("multirotor, 6.3 in motor-to-motor, arm thickness 0.5 cm",
         {"motor_to_motor": (6.3, "in", 160.02, "stated"), "arm_thickness": (0.5, "cm", 5, "stated")}),
        ("a 5 inch freestyle quad",
         {"motor_to_motor": (215.5, "mm", 215.5, "assumed"), "prop_size": (5, "in", 127, "stated")}),
        ("a project box 12 x 8 x 4 cm with 2.5 mm walls",
         {"width": (12, "cm", 120, "stated"), "depth": (8, "cm", 80, "stated"), "height": (4, "cm", 40, "stated"),
          "wall_thickness": (2.5, "mm", 2.5, "stated")}),
        ("an electronics enclosure with an inside size of 60 x 40 x 25 mm",
         {"inner_width": (60, "mm", 60, "stated"), "inner_depth": (40, "mm", 40, "stated"), "inner_height": (25, "mm", 25, "stated"),
          "wall_thickness": (2, "mm", 2, "assumed")}),
        ("a shelf bracket, 2 in wide and 5 mm thick",
         {"width": (2, "in", 50.8, "stated"), "thickness": (5, "mm", 5, "stated"), "length": (50, "mm", 50, "assumed")}),
    ],
)
def test_sizes_are_read_with_their_units(content, expected):
    found = dims(requirements_extract(content, []))
    for name, (value, unit, value_mm, source) in expected.items():
        assert found[name][0] == pytest.approx(value) and found[name][1] == unit, name
        assert found[name][2] == pytest.approx(value_mm) and found[name][3] == source, name


@pytest.mark.parametrize(
    "content, model_type",
    [
        ("I need a lightweight drone", "quadcopter_frame"),
        ("an FPV quadcopter frame", "quadcopter_frame"),
        ("a case for my Arduino", "enclosure_box"),
        ("an angle brace for a shelf", "bracket"),
        ("a bonsai pot", "bonsai_pot"),
        ("a humidity tray", "planter_tray"),
        ("a coffee mug", "vase"),
        ("a red dragon", None),
    ],
)
def test_model_type_is_classified(content, model_type):
    assert requirements_extract(content, [])["model_type"] == model_type


def test_seed_process_requirements_example():
    """Seed 001's request: content plus a history turn; the answer has the seed's keys, the parts
    a quadcopter frame takes with search terms, what was assumed and what is still open."""
    history = [{"role": "user", "content": "I need a lightweight drone"}]
    found = requirements_extract("Design a small quadcopter frame", history)
    assert found == requirements_extract("Design a small quadcopter frame", history)  # deterministic
    assert found["model_type"] == "quadcopter_frame"
    assert found["primary_function"] == "A lightweight small quadcopter frame for hobby use"
    assert "20×20 mm flight-controller stack" in found["description_natural_language"]
    assert {"name": "Flight controller stack 20×20 mm", "search_term": "20x20 mm flight controller ESC stack M2"} in found["standard_components"]
    assert "14xx brushless motor 12x12 mm M2" in terms(found)
    assert "4 inch FPV propellers" in terms(found) and "4S 850mAh LiPo XT60" in terms(found)
    assert all(d["source"] == "assumed" for d in found["dimensions"])
    assert dims(found)["motor_to_motor"][2] == 160 and dims(found)["arm_thickness"][2] == 3
    assert found["open_questions"][0].startswith("How big should it be")
    assert any("flight-controller stack" in q for q in found["open_questions"])
    assert any("print it in" in q for q in found["open_questions"])
    assert "motor-to-motor distance (diagonal) 160 mm, arm thickness 3 mm, arm width 8 mm" in found["assumptions"]

    reply = requirements_reply(found)
    assert reply.startswith("Got it: a lightweight small quadcopter frame for hobby use.")
    assert "Where you didn't say, I assumed motor-to-motor distance (diagonal) 160 mm" in reply
    assert "Before I build it, a few questions: How big should it be" in reply and "Generate model" in reply


def test_catalogue_of_standard_parts():
    found = requirements_extract(
        "A 5 inch freestyle quad with 2207 motors, a 30.5x30.5 stack, a GPS and a camera, printed in PA-CF", [])
    assert found["features"] == {"prop_in": 5.0, "motor_class": 22, "fc_mount": 30.5}
    assert found["material"] == "carbon-fibre nylon"
    assert terms(found)[:4] == [
        "30.5x30.5 mm flight controller ESC stack M3", "22xx brushless motor 16x19 mm M3", "5 inch FPV propellers", "6S 1100mAh LiPo XT60",
    ]
    assert "M3x6 mm socket head screws" in terms(found)  # through a 3 mm arm, 3 mm into the motor
    assert "M10 GPS module drone" in terms(found) and "micro FPV camera 19 mm" in terms(found)
    assert not any("print it in" in q for q in found["open_questions"])  # the material was given
    assert not any("stack" in q for q in found["open_questions"]) and not any("motors" in q for q in found["open_questions"])

    small = requirements_extract("a 3 inch quad with 1404 motors on a 20x20 stack, M3 screws", [])
    assert small["features"]["motor_class"] == 14 and small["features"]["screw"] == "M3"
    assert "14xx brushless motor 12x12 mm M2" in terms(small) and "3 inch FPV propellers" in terms(small)
    assert "M3 nylon standoffs screws 20x20 stack" in terms(small)  # the screws asked for hold the stack

    box = requirements_extract("an enclosure for a Raspberry Pi with a lid, M2.5 screws", [])
    assert box["standard_components"][0] == {"name": "Raspberry Pi 4", "search_term": "Raspberry Pi 4"}
    assert "M2.5x5 mm self tapping screws pan head" in terms(box)
    assert [(d["name"], d["value_mm"], d["source"]) for d in box["dimensions"]] == [
        ("inner_width", 91, "derived"), ("inner_depth", 62, "derived"), ("inner_height", 27, "derived"),
        ("wall_thickness", 2, "assumed"),
    ]


def test_a_stack_size_is_not_a_frame_size():
    """"20x20" on a quadcopter is its flight-controller stack: it was read as a 20 × 20 mm frame,
    which then failed as a 20 mm motor-to-motor span."""
    found = requirements_from_prompt("a quadcopter frame with a 20x20 stack")
    assert found["dimensions"] == {} and found["features"] == {"fc_mount": 20.0}
    assert model_from_requirements(found).parameters["span"] == 160


def test_later_messages_refine_earlier_ones():
    history = [
        {"role": "user", "content": "a quadcopter frame, 3 mm thick arms, 160 mm motor-to-motor"},
        {"role": "assistant", "content": "I assumed 8 mm wide arms and 10 mm thick plates."},  # the assistant's words are not requirements
    ]
    found = requirements_extract("make the arms 4 mm", history)
    assert found["model_type"] == "quadcopter_frame"
    assert dims(found)["arm_thickness"] == (4, "mm", 4, "stated")
    assert dims(found)["motor_to_motor"] == (160, "mm", 160, "stated")
    assert dims(found)["arm_width"][3] == "assumed"
    assert found["custom_description"] == "A printed quadcopter frame. Use 160 mm motor-to-motor, 4 mm thick arms."

    history.append({"role": "user", "content": "make the arms 4 mm"})
    props = requirements_extract("actually, size it for 5 inch props", history)
    assert dims(props)["motor_to_motor"] == (215.5, "mm", 215.5, "assumed") and dims(props)["arm_thickness"][0] == 4

    other = requirements_extract("no, I want an enclosure 100x60x40 mm instead", history)
    assert other["model_type"] == "enclosure_box"
    assert set(dims(other)) == {"width", "depth", "height", "wall_thickness"} and dims(other)["width"][2] == 100


def test_sizes_that_cannot_be_built_become_a_question():
    found = requirements_extract("a quadcopter frame 50 m motor-to-motor", [])
    assert dims(found)["motor_to_motor"] == (50, "m", 50000, "stated")
    assert found["open_questions"] == ["Motor-to-motor span must be between 60 and 800 mm (got 50000). What should it be instead?"]
    reply = requirements_reply(found)
    assert "What should it be instead?" in reply and "Generate model" not in reply

    clash = requirements_extract("a quadcopter for 5 inch props, 160 mm motor-to-motor", [])
    assert "5-inch props need at least" in clash["open_questions"][0]


def test_nothing_to_model_asks_what_to_make():
    found = requirements_extract("a red dragon", [])
    assert found["model_type"] is None and found["dimensions"] == []
    reply = requirements_reply(found)
    assert reply.startswith("I couldn't tell what you'd like me to design.") and "quadcopter frames" in reply


def test_reply_states_what_was_understood_and_assumed():
    reply = requirements_reply(requirements_extract("an electronics enclosure, inside 60 x 40 x 25 mm, with a lid, in PETG", []))
    assert reply.startswith("Got it: an enclosure for electronics with a screw-on lid.")
    assert "From what you wrote I took inner width 60 mm, inner depth 40 mm and inner height 25 mm." in reply
    assert "I assumed wall thickness 2 mm; M3 self-tapping screws into the posts." in reply
    assert "You'll print it in PETG." in reply and "I have what I need" in reply


# --- requirements_json a client sends ---------------------------------------------------------


def test_clean_accepts_seed_requirements_and_the_extractors_own():
    clean = requirements_clean(SEED_REQUIREMENTS)
    assert clean["model_type"] == "drone" and clean["standard_components"] == SEED_REQUIREMENTS["standard_components"]
    assert clean["dimensions"] == [] and clean["features"] == {}
    extracted = requirements_extract("a 5 inch quad, 4 mm thick arms", [])
    assert requirements_clean(extracted)["dimensions"] == [
        {k: d[k] for k in ("name", "value", "unit", "value_mm", "label", "source")} for d in extracted["dimensions"]
    ]


def message_of(failure) -> str:
    return failure.value.message_dict["requirements_json"][0]


@pytest.mark.parametrize("value", [["model_type", "drone"], "a drone", 3, None])
def test_clean_rejects_what_is_not_an_object(value):
    with pytest.raises(ValidationError) as failure:
        requirements_clean(value)
    assert message_of(failure) == "Must be a JSON object."


@pytest.mark.parametrize(
    "change, message",
    [
        ({"dimensions": [{"name": "arm_thickness", "value": 0, "unit": "mm"}]},
         "dimensions.arm_thickness: 0 mm is not a size that can be made; sizes must be more than 0 mm."),
        ({"dimensions": [{"name": "motor_to_motor", "value": -160, "unit": "mm"}]},
         "dimensions.motor_to_motor: -160 mm is not a size that can be made; sizes must be more than 0 mm."),
        ({"dimensions": [{"name": "motor_to_motor", "value": 10, "unit": "m"}]},
         "dimensions.motor_to_motor: 10000 mm is larger than the 2000 mm anything here can be printed at."),
        ({"dimensions": [{"name": "width", "value": "wide", "unit": "mm"}]}, "dimensions.width: must be a number."),
        ({"dimensions": [{"name": "width", "value": True, "unit": "mm"}]}, "dimensions.width: must be a number."),
        ({"dimensions": [{"name": "width", "value": 10, "unit": "furlong"}]}, "dimensions.width: unit must be mm, cm, m or in."),
        ({"dimensions": [{"name": "width", "value": 10, "unit": "cm", "value_mm": 10}]},
         "dimensions.width: value_mm 10 does not match 10 cm."),
        ({"dimensions": [{"name": "colour", "value": 10, "unit": "mm"}]}, "dimensions.colour: unknown size name."),
        ({"custom_description": "Use 3 mm thick arms, 10 m motor-to-motor"},
         "custom_description (span): 10000 mm is larger than the 2000 mm anything here can be printed at."),
        ({"custom_description": "arms 0 mm thick"}, "custom_description (thickness): 0 mm is not a size that can be made; sizes must be more than 0 mm."),
        ({"features": {"fc_mount": 22}}, "features.fc_mount: must be one of 16, 20, 25.5, 30.5 mm."),
        ({"features": {"lid": "yes"}}, "features.lid: must be true or false."),
        ({"features": {"teleport": True}}, "features: unknown feature teleport; known: backrest, drainage_holes, fc_mount, fc_screw, "
                                           "lid, motor_class, motor_mount, motor_screw, prop_in, screw, shape, shelves, vessel."),
        ({"standard_components": [{"search_term": "stack"}]}, "standard_components[0]: must be an object with a name."),
        ({"standard_components": "stack 20x20"}, "standard_components: must be a list of at most 50 {name, search_term} objects."),
        ({"model_type": 7}, "model_type: must be a string."),
        ({"colour": "red"}, "colour: unknown field; known fields: assumptions, custom_description, description_natural_language, "
                            "dimensions, features, material, model_type, open_questions, primary_function, standard_components."),
    ],
)
def test_clean_names_the_field_at_fault(change, message):
    with pytest.raises(ValidationError) as failure:
        requirements_clean({**SEED_REQUIREMENTS, **change})
    assert message_of(failure) == message
