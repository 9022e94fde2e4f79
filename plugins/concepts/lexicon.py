"""Closed word lists the template path lets a small model choose from.

A 135M model cannot write a caption around a concept without drifting, and
by measurement it cannot tell a concept's colour or material either: asked to
pick from a list, SmolLM2-135M gave "a red giraffe", "a blue watermelon", "a
pizza made of wood" (docs/concepts.md, "Which path"). So every list a concept
is offered holds only options that fit *any* concept of its kind: a colour
for a made thing (a teapot can be any colour, a zebra cannot), a pose for a
creature that fits its kind ("a giraffe swimming" is never offered), a state
for a food. The kind comes from the lists below, matched on the whole concept
("teddy bear" is a toy, not a bear); a concept in none of them is taken as a
made thing.
"""

from __future__ import annotations

from instructgen.text import words

from .phrases import singular

#: Colours any made thing can have.
COLOURS: tuple[str, ...] = (
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white",
    "grey", "silver",
)
#: Sizes and ages of a made thing, said without judging; ``none`` leaves it out.
SIZES: tuple[str, ...] = ("none", "small", "large", "old", "new")
#: States any food can be photographed in.
FOOD_STATES: tuple[str, ...] = ("none", "whole", "sliced", "half-eaten", "fresh")
#: Sizes any plant can have.
PLANT_SIZES: tuple[str, ...] = ("none", "small", "tall", "young")

#: How a lone thing is shown, with no other object named (c2cap).
VIEWS: tuple[str, ...] = (
    "seen from the side", "seen from above", "seen from the front", "in close-up",
    "in bright daylight",
)
#: Studio shots: for a thing alone, never a creature ("a horse on a plain white
#: background" reads as a cut-out, not a photo).
STUDIO_VIEWS: tuple[str, ...] = (
    "on a plain white background", "on a plain grey background", "against a dark background",
)

#: Poses or actions per kind of creature, as participles ("a horse grazing").
POSES: dict[str, tuple[str, ...]] = {
    "mammal": ("standing", "walking", "running", "lying down", "sitting", "sleeping",
               "eating", "looking to the side"),
    "grazer": ("standing", "walking", "running", "lying down", "grazing", "eating leaves",
               "looking to the side"),
    "bird": ("perched on a branch", "standing", "flying", "spreading its wings",
             "sitting in a nest", "looking to the side"),
    "fish": ("swimming", "swimming near the surface", "turning in the water"),
    "reptile": ("resting", "walking slowly", "crawling", "sitting still", "basking in the sun"),
    "insect": ("resting on a leaf", "flying", "sitting on a flower", "crawling"),
    "person": ("standing", "walking", "sitting", "smiling", "looking to the side", "waving"),
}

#: Animals and people by kind; matched on the whole concept, head noun made singular.
CREATURES: dict[str, frozenset[str]] = {
    "mammal": frozenset({
        "dog", "cat", "puppy", "kitten", "bear", "polar bear", "brown bear", "lion", "tiger",
        "leopard", "cheetah", "wolf", "fox", "rabbit", "squirrel", "mouse", "rat", "hamster",
        "monkey", "gorilla", "chimpanzee", "panda", "koala", "kangaroo", "pig", "raccoon",
        "otter", "seal", "hedgehog", "bat", "elephant", "rhinoceros", "hippopotamus",
    }),
    "grazer": frozenset({
        "horse", "pony", "donkey", "zebra", "giraffe", "cow", "bull", "sheep", "goat", "deer",
        "moose", "camel", "llama", "alpaca", "buffalo", "bison", "antelope", "gazelle",
    }),
    "bird": frozenset({
        "bird", "owl", "parrot", "eagle", "hawk", "falcon", "pigeon", "dove", "sparrow",
        "robin", "crow", "raven", "duck", "goose", "swan", "chicken", "hen", "rooster",
        "turkey", "flamingo", "peacock", "seagull", "gull", "pelican", "heron", "stork",
        "hummingbird", "woodpecker", "toucan", "penguin",
    }),
    "fish": frozenset({
        "fish", "goldfish", "salmon", "trout", "shark", "dolphin", "whale", "clownfish",
        "jellyfish", "octopus",
    }),
    "reptile": frozenset({
        "turtle", "tortoise", "frog", "toad", "lizard", "snake", "crocodile", "alligator",
        "iguana", "gecko", "chameleon",
    }),
    "insect": frozenset({
        "butterfly", "bee", "ant", "ladybug", "dragonfly", "moth", "beetle", "grasshopper",
        "spider", "caterpillar",
    }),
    "person": frozenset({
        "man", "woman", "boy", "girl", "child", "person", "baby", "chef", "farmer",
        "firefighter", "doctor", "nurse", "police officer", "soldier", "teacher", "student",
        "musician", "dancer", "skier", "surfer", "cyclist", "runner",
    }),
}
# A penguin does not fly, a frog hops: a few creatures get their own poses.
_OWN_POSES: dict[str, tuple[str, ...]] = {
    "penguin": ("standing", "walking", "swimming", "standing on ice", "looking to the side"),
    "frog": ("sitting on a leaf", "sitting still", "jumping", "swimming"),
    "toad": ("sitting on a leaf", "sitting still", "jumping"),
    "dolphin": ("swimming", "jumping out of the water"),
    "whale": ("swimming", "diving"),
    "jellyfish": ("floating", "drifting in the water"),
    "octopus": ("swimming", "resting on the sea floor"),
    "snake": ("coiled", "crawling", "resting"),
    "turtle": ("swimming", "walking slowly", "resting", "basking in the sun"),
    "chicken": ("standing", "walking", "pecking at the ground"),
    "hen": ("standing", "walking", "pecking at the ground"),
    "rooster": ("standing", "walking", "crowing"),
    "duck": ("swimming", "standing", "walking", "flying"),
    "swan": ("swimming", "standing", "flying"),
    "goose": ("swimming", "standing", "walking", "flying"),
    "elephant": ("standing", "walking", "drinking water", "eating leaves"),
}


#: Foods and plants by whole concept (head noun singular): no colour is offered for them.
FOODS = frozenset({
    "apple", "banana", "orange", "lemon", "lime", "pear", "peach", "plum", "cherry",
    "grape", "strawberry", "blueberry", "raspberry", "watermelon", "melon", "pineapple",
    "mango", "kiwi", "coconut", "avocado", "tomato", "potato", "carrot", "onion", "pepper",
    "cucumber", "pumpkin", "corn", "broccoli", "cabbage", "lettuce", "mushroom", "egg",
    "bread", "bread loaf", "loaf", "baguette", "croissant", "bagel", "muffin", "cupcake",
    "cake", "pie", "cookie", "donut", "doughnut", "pancake", "waffle", "pizza", "sandwich",
    "burger", "hamburger", "hot dog", "taco", "burrito", "sushi", "salad", "cheese",
    "sausage", "steak", "pretzel", "ice cream", "ice cream cone", "chocolate bar",
})
PLANTS = frozenset({
    "sunflower", "rose", "tulip", "daisy", "lily", "orchid", "lotus", "dandelion", "flower",
    "cactus", "fern", "tree", "oak tree", "palm tree", "pine tree", "bonsai", "bush",
    "shrub", "houseplant", "bamboo",
})


#: Made things with one colour everyone expects ("a blue snowman" reads wrong): offered
#: a size only.
FIXED_COLOUR = frozenset({
    "snowman", "fire truck", "fire engine", "school bus", "taxi", "stop sign",
    "fire hydrant", "traffic cone", "scarecrow", "mailbox", "police car", "ambulance",
})


def concept_key(concept: str) -> str:
    """Lower case, words joined by one space, the last word singular."""
    ws = [w.lower() for w in words(concept)]
    if ws:
        ws[-1] = singular(ws[-1])
    return " ".join(ws)


def creature_kind(concept: str) -> str | None:
    """The kind of creature the whole concept names, or ``None`` for a thing."""
    key = concept_key(concept)
    for kind, names in CREATURES.items():
        if key in names:
            return kind
    return None


def kind_of(concept: str) -> str:
    """``thing``, ``fixed_colour``, ``food``, ``plant``, or the creature kind (``bird``, ...)."""
    key = concept_key(concept)
    if key in FOODS:
        return "food"
    if key in PLANTS:
        return "plant"
    if key in FIXED_COLOUR:
        return "fixed_colour"
    return creature_kind(concept) or "thing"


def poses_for(concept: str) -> tuple[str, ...]:
    """The poses a concept may take; empty for things."""
    key = concept_key(concept)
    if key in _OWN_POSES:
        return _OWN_POSES[key]
    kind = creature_kind(concept)
    return POSES[kind] if kind else ()


#: Relations between two things that any pair of objects can be in (cc2cap).
RELATIONS: tuple[str, ...] = (
    "next to", "beside", "near", "in front of", "behind", "to the left of",
    "to the right of",
)

#: Setting nouns that take "on" ("on a city street") or "at" ("at a bus stop");
#: every other setting takes "in". Matched on the setting's head noun.
ON_SETTINGS = frozenset({
    "street", "road", "trail", "path", "sidewalk", "platform", "beach", "table", "counter",
    "shelf", "tray", "desk", "bench", "dock", "pier", "bridge", "roof", "rooftop", "deck",
    "lawn", "porch", "balcony", "stage", "track", "slope", "hill", "summit", "coast", "shore",
    "cliff", "island", "floor", "grass", "sand", "ice", "snow", "railing", "windowsill",
    "ledge", "mountain", "runway", "highway", "seat", "step", "steps", "plate", "rock",
    "river", "lake", "sea", "ocean", "pond", "top", "edge", "surface", "coastline",
    "shoreline", "waterfront", "riverbank", "boardwalk", "promenade", "seafront", "blanket",
    "sofa", "bed", "dashboard", "nightstand",
})
#: Settings that take "by" ("by a roadside").
BY_SETTINGS = frozenset({"roadside", "wayside", "fireside", "poolside", "lakeside",
                         "riverside", "seaside", "bedside", "window", "campfire",
                         "bonfire", "fireplace", "fire"})
AT_SETTINGS = frozenset({
    "stop", "entrance", "station", "gate", "corner", "fair", "festival",
    "picnic", "party", "concert", "wedding", "airport", "campsite", "site",
})
#: Settings that take "the" ("in the countryside", "in the sky").
THE_SETTINGS = frozenset({"countryside", "sky", "wild", "wilderness", "outdoors",
                          "open air"})
#: Settings read without an article ("on grass", "in snow").
MASS_SETTINGS = frozenset({
    "grass", "snow", "sand", "water", "mud", "fog", "rain", "sunlight", "moonlight",
    "traffic", "shade", "darkness",
})


#: Things too big for a table or a room: vehicles, buildings and large animals
#: (the grazers and big mammals above count too). Matched on the whole concept.
LARGE = frozenset({
    "car", "bus", "truck", "fire truck", "fire engine", "school bus", "tractor", "train",
    "tram", "helicopter", "airplane", "plane", "jet", "boat", "ship", "sailboat", "yacht",
    "hot air balloon", "lighthouse", "windmill", "fountain", "bridge", "tower", "house",
    "castle", "barn", "church", "temple", "statue", "traffic light", "crane", "tent",
    "elephant", "rhinoceros", "hippopotamus", "bear", "polar bear", "brown bear", "whale",
    "shark", "dolphin", "crocodile", "alligator", "camel", "lion", "tiger",
})
#: Settings that are a surface or a container for small things ("breakfast tray"):
#: nothing large and no animal bigger than a cat stands there. Matched on the head noun.
SMALL_SETTINGS = frozenset({
    "table", "tray", "desk", "shelf", "counter", "windowsill", "roof", "blanket", "plate",
    "vase", "drawer", "box", "basket", "bowl", "bag", "pocket", "nightstand", "dashboard",
    "bench", "seat", "sofa", "bed", "cushion", "pillow", "case", "crate", "cabinet",
})
#: Rooms and shops: nothing large fits inside, and wild animals are not found there.
INDOOR_SETTINGS = frozenset({
    "room", "kitchen", "bedroom", "bathroom", "office", "shop", "store", "lobby", "bar",
    "cafe", "restaurant", "library", "classroom", "studio", "hallway", "attic", "basement",
    "garage", "corner", "apartment", "hotel", "terminal", "lounge", "bakery", "market",
    "stall", "greenhouse", "museum", "gallery", "mall", "theater", "theatre", "gym",
    "stage", "school", "hall", "pit", "church", "chapel",
})
#: Creatures that live with people and fit a room or a table.
PETS = frozenset({"dog", "cat", "puppy", "kitten", "hamster", "mouse", "rabbit", "parrot",
                  "bird", "butterfly", "bee", "ladybug"})
#: Settings that are open water: only what floats or swims is photographed on or in them.
WATER_SETTINGS = frozenset({"lake", "river", "sea", "ocean", "pond", "water", "fountain",
                            "aquarium", "tank", "pool", "stream", "canal", "bay", "lagoon"})
#: Made things that float ("a sailboat on a lake").
FLOATING = frozenset({"boat", "ship", "sailboat", "rowboat", "canoe", "kayak", "yacht",
                      "raft", "ferry", "buoy", "surfboard", "paddle board"})
#: Where a boat out of the water is still photographed.
SHORE_SETTINGS = frozenset({"harbor", "harbour", "marina", "boatyard", "dock", "pier",
                            "beach", "coast", "shore", "shoreline", "coastline", "jetty",
                            "waterfront", "port", "boathouse", "riverbank", "bank"})
#: Birds at home on water.
WATER_BIRDS = frozenset({"duck", "goose", "swan", "penguin", "pelican", "seagull", "gull",
                         "heron", "flamingo"})


def is_large(concept: str) -> bool:
    """A vehicle, a building or a large animal: too big for a table or a room."""
    key = concept_key(concept)
    return key in LARGE or creature_kind(concept) == "grazer"


def fits_setting(concept: str, setting_head: str) -> bool:
    """Whether ``concept`` can be photographed in a setting with this head noun.

    Open water holds only what floats or swims, a fish is only in water and a
    boat only on water or at the shore;
    large things fit neither surfaces nor rooms; animals other than pets and
    people fit no surface and no room ("a giraffe on a car roof", "a penguin
    in an antique shop"); everything else fits anywhere.
    """
    head = singular(setting_head.lower())
    small, indoor = head in SMALL_SETTINGS, head in INDOOR_SETTINGS
    key, kind = concept_key(concept), creature_kind(concept)
    aquatic = kind == "fish"
    if head in WATER_SETTINGS or aquatic:  # water holds only what floats or swims
        return head in WATER_SETTINGS and (aquatic or key in FLOATING or key in WATER_BIRDS)
    if key in FLOATING and key not in ("surfboard", "paddle board"):
        return head in SHORE_SETTINGS  # no sailboat in a skate park
    if is_large(concept):
        return not (small or indoor)
    if kind and kind != "person" and key not in PETS:
        return not (small or indoor)
    return True
