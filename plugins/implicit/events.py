"""Everyday cause-and-effect events, written out once, for the template path of ``implicit``.

Under ``compose = "template"`` the model only picks which events a turn uses
(:mod:`.templated`); each event here says how the scene looks before, what
happens (a clause that works after "if": "the glass vase is knocked over"), and
how it looks after. The wording is ours; every caption is one short, concrete
sentence, and the instruction is built from the clause, so it never names the
edit ("make the vase broken").
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class Event:
    """One change by cause: ``before`` and ``after`` may hold ``{place}``."""

    #: What the model picks: a short name of the event.
    name: str
    #: The theme of :data:`~.prompts.DEFAULT_THEMES` it belongs to.
    theme: str
    #: The thing that changes, as the instruction names it ("glass vase").
    thing: str
    #: What happens, as a clause that reads after "if" ("the glass vase is knocked over").
    clause: str
    before: str
    after: str
    keywords: tuple[str, ...]
    #: Where the scene is; one is drawn per quadruple. Empty: the captions say it.
    places: tuple[str, ...] = ()


EVENTS: tuple[Event, ...] = (
    Event(name="vase knocked over", theme="falling and breaking", thing="glass vase",
          clause="the glass vase is knocked over", before="a glass vase of tulips {place}",
          after="pieces of a broken glass vase and wet tulips {place}",
          keywords=("vase", "tulips"),
          places=("on a wooden table", "on a kitchen counter", "on a marble floor")),
    Event(name="egg rolls off", theme="falling and breaking", thing="egg",
          clause="the egg rolls off the edge of the counter",
          before="a white egg near the edge of a kitchen counter",
          after="a cracked egg with a runny yolk on the kitchen floor",
          keywords=("egg", "floor")),
    Event(name="ice cream in the sun", theme="melting and freezing", thing="ice cream cone",
          clause="the ice cream cone is left in the hot sun for an hour",
          before="a scoop of strawberry ice cream in a cone {place}",
          after="a soggy cone in a sticky pink puddle {place}",
          keywords=("ice cream", "cone"),
          places=("on a park bench", "on a picnic table", "on a stone wall")),
    Event(name="snowman in spring", theme="melting and freezing", thing="snowman",
          clause="the warm spring sun shines on the snowman for a week",
          before="a snowman with a carrot nose and a red scarf {place}",
          after="a heap of wet snow with a carrot and a red scarf {place}",
          keywords=("snowman", "scarf"),
          places=("in a front yard", "in a city park", "on a school playground")),
    Event(name="puddle freezes", theme="melting and freezing", thing="puddle",
          clause="the temperature drops below freezing overnight",
          before="a rain puddle {place} in the evening",
          after="a sheet of frozen ice {place} in the morning",
          keywords=("puddle", "ice"),
          places=("on a sidewalk", "in a parking lot", "on a country road")),
    Event(name="chocolate on a dashboard", theme="melting and freezing",
          thing="chocolate bar", clause="the car stands in the summer sun all afternoon",
          before="a chocolate bar lying on the dashboard of a parked car",
          after="a melted chocolate bar oozing out of its wrapper on a car dashboard",
          keywords=("chocolate", "dashboard")),
    Event(name="candle burns down", theme="fire and burning", thing="candle",
          clause="the candle burns all night", before="a tall white candle {place}",
          after="a short candle stub in a pool of hardened wax {place}",
          keywords=("candle", "wax"),
          places=("on a dining table", "on a windowsill", "on a bedside table")),
    Event(name="marshmallow burns", theme="fire and burning", thing="marshmallow",
          clause="the marshmallow is held in the flames too long",
          before="a white marshmallow on a stick above a campfire",
          after="a blackened, burnt marshmallow on a stick above a campfire",
          keywords=("marshmallow", "campfire")),
    Event(name="toast burns", theme="fire and burning", thing="bread",
          clause="the toaster is left on for ten minutes",
          before="two slices of bread in a toaster {place}",
          after="two black, smoking slices of toast in a toaster {place}",
          keywords=("toast", "toaster"), places=("on a kitchen counter", "next to a sink")),
    Event(name="seedling grows", theme="plants growing over time", thing="seedling",
          clause="the seedling is watered every day for two months",
          before="a tiny green seedling {place}", after="a tall leafy bean plant {place}",
          keywords=("seedling", "plant"),
          places=("in a clay pot", "in a garden bed", "in a pot on a windowsill")),
    Event(name="houseplant not watered", theme="plants growing over time",
          thing="houseplant", clause="nobody waters the houseplant for a month",
          before="a green leafy houseplant {place}",
          after="a wilted houseplant with dry brown leaves {place}",
          keywords=("houseplant", "leaves"),
          places=("in a clay pot", "in a living room corner", "on an office shelf")),
    Event(name="bread goes moldy", theme="food going stale or rotting", thing="bread",
          clause="the bread is left out for two weeks", before="a slice of white bread {place}",
          after="a slice of bread covered in green mold {place}",
          keywords=("bread", "mold"), places=("on a kitchen counter", "on a plate")),
    Event(name="banana ripens", theme="food going stale or rotting", thing="banana",
          clause="the banana sits in the fruit bowl for ten days",
          before="a yellow banana in a fruit bowl {place}",
          after="a soft banana covered in brown spots in a fruit bowl {place}",
          keywords=("banana", "bowl"), places=("on a kitchen table", "on a counter")),
    Event(name="pumpkin rots", theme="food going stale or rotting", thing="carved pumpkin",
          clause="the carved pumpkin stays outside for a month",
          before="a freshly carved pumpkin {place}",
          after="a soft, rotting carved pumpkin with sunken sides {place}",
          keywords=("pumpkin",), places=("on a front porch", "on a doorstep")),
    Event(name="bicycle in a snowstorm", theme="rain, snow and other weather",
          thing="bicycle", clause="a snowstorm passes during the night",
          before="a red bicycle parked {place}",
          after="a red bicycle buried under thick snow {place}",
          keywords=("bicycle", "snow"),
          places=("in a backyard", "by a garden fence", "on a city sidewalk")),
    Event(name="chalk drawing in the rain", theme="rain, snow and other weather",
          thing="chalk drawing", clause="heavy rain falls on the chalk drawing",
          before="a colorful chalk drawing of a sun {place}",
          after="a faded, smeared chalk drawing {place}, wet from the rain",
          keywords=("chalk", "drawing"), places=("on a sidewalk", "on a driveway")),
    Event(name="egg is fried", theme="cooking and baking", thing="egg",
          clause="the egg is cracked into the hot pan",
          before="a raw egg next to a frying pan on a stove",
          after="a fried egg with a yellow yolk in a frying pan on a stove",
          keywords=("egg", "pan")),
    Event(name="cookies are baked", theme="cooking and baking", thing="tray of cookie dough",
          clause="the tray of cookie dough bakes in the oven for fifteen minutes",
          before="a baking tray with balls of raw cookie dough {place}",
          after="a baking tray of golden brown cookies {place}",
          keywords=("cookies", "tray"), places=("on a kitchen counter", "next to an oven")),
    Event(name="coffee spills", theme="water soaking or spilling", thing="coffee cup",
          clause="the coffee cup is knocked over", before="a full cup of coffee {place}",
          after="a cup lying on its side in a puddle of coffee {place}",
          keywords=("coffee", "cup"), places=("on an office desk", "on a wooden table")),
    Event(name="sponge soaks", theme="water soaking or spilling", thing="sponge",
          clause="the sponge is dropped into a bucket of water",
          before="a dry yellow sponge next to a bucket of water",
          after="a soaked yellow sponge floating in a bucket of water",
          keywords=("sponge", "bucket")),
    Event(name="umbrella in the wind", theme="strong wind", thing="umbrella",
          clause="a strong gust of wind hits the umbrella",
          before="a person holding an open black umbrella {place}",
          after="a person holding a black umbrella turned inside out {place}",
          keywords=("umbrella", "person"), places=("on a rainy street", "at a bus stop")),
    Event(name="leaves blow away", theme="strong wind", thing="pile of leaves",
          clause="a strong wind blows through the yard",
          before="a neat pile of autumn leaves next to a rake in a yard",
          after="autumn leaves scattered all over a yard and a fallen rake",
          keywords=("leaves", "rake")),
    Event(name="harbor at night", theme="time of day and light", thing="harbor",
          clause="night falls over the harbor",
          before="a quiet harbor with fishing boats in the afternoon",
          after="a dark harbor with fishing boats lit by lamps at night",
          keywords=("harbor", "boats")),
    Event(name="sunrise on a beach", theme="time of day and light", thing="beach",
          clause="the sun rises over the sea", before="an empty beach under a dark night sky",
          after="an empty beach under an orange sky at sunrise",
          keywords=("beach", "sky")),
    Event(name="cat finds its food", theme="animals eating or playing", thing="food bowl",
          clause="a hungry cat finds the food bowl", before="a full bowl of cat food {place}",
          after="an empty food bowl and a cat licking its lips {place}",
          keywords=("cat", "bowl"), places=("on a kitchen floor", "next to a door")),
    Event(name="kitten plays with yarn", theme="animals eating or playing",
          thing="ball of yarn", clause="a kitten plays with the ball of yarn",
          before="a neat ball of red yarn {place}",
          after="a kitten tangled in loose red yarn {place}",
          keywords=("kitten", "yarn"), places=("on a living room rug", "on a sofa")),
    Event(name="can is stepped on", theme="squashing, bending and tearing", thing="soda can",
          clause="someone steps on the soda can", before="an empty soda can {place}",
          after="a flattened soda can {place}", keywords=("can",),
          places=("on a sidewalk", "on a gravel path")),
    Event(name="balloon touches a cactus", theme="squashing, bending and tearing",
          thing="balloon", clause="the balloon drifts onto the cactus",
          before="a red balloon floating next to a cactus {place}",
          after="scraps of a popped red balloon next to a cactus {place}",
          keywords=("balloon", "cactus"), places=("on a windowsill", "in a sunny room")),
)

BY_NAME: dict[str, Event] = {e.name: e for e in EVENTS}
