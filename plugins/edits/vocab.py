"""Word lists the edit checks and rule-derived types rely on. All written for this project.

They are matched on word boundaries through :mod:`instructgen.text`, so "red"
never matches "covered" and "tan" never matches "standing".
"""

from __future__ import annotations

COLOURS: tuple[str, ...] = (
    "red", "orange", "yellow", "green", "blue", "purple", "violet", "pink", "brown", "black",
    "white", "gray", "grey", "silver", "gold", "golden", "beige", "tan", "teal", "turquoise",
    "navy", "maroon", "magenta", "cyan", "crimson", "scarlet", "lavender", "ivory", "cream",
    "olive", "lime", "indigo", "amber", "coral", "burgundy", "khaki", "mint", "peach",
    "charcoal", "emerald", "ruby", "lilac", "mustard", "aqua", "azure", "bronze",
    "copper", "blond", "blonde",
)

MATERIALS: tuple[str, ...] = (
    "wooden", "wood", "glass", "metal", "metallic", "steel", "stainless", "iron", "copper",
    "bronze", "brass", "aluminum", "aluminium", "stone", "marble", "granite", "concrete",
    "brick", "paper", "cardboard", "plastic", "rubber", "leather", "ceramic", "porcelain",
    "clay", "fabric", "cotton", "wool", "woolen", "woollen", "silk", "velvet", "denim",
    "linen", "bamboo", "wicker", "straw", "ice", "crystal", "gold", "golden", "silver",
    "jade", "terracotta", "felt", "cork", "chrome", "tin", "pewter", "obsidian", "sandstone",
    "resin", "acrylic", "nylon", "canvas", "suede", "burlap", "rattan", "plaster", "wax",
    "chocolate", "lego", "origami", "knitted", "quartz",
)

TEXTURES: tuple[str, ...] = (
    "dotted", "polka-dot", "polka-dotted", "striped", "checkered", "checked", "plaid",
    "woven", "knitted", "quilted", "ribbed", "furry", "fluffy", "fuzzy", "scaly", "spotted",
    "speckled", "wrinkled", "crinkled", "rough", "smooth", "glossy", "matte", "bumpy",
    "cracked", "rusty", "mossy", "embroidered", "braided", "corrugated", "grainy", "marbled",
    "mottled", "patterned", "tiled", "sandy", "shiny", "velvety", "honeycomb", "herringbone",
    "zigzag", "floral", "camouflage", "hairy", "feathered", "feathery", "pebbled", "frosted",
    "weathered", "leopard-print", "zebra-striped", "crocheted", "beaded", "sequined",
    "studded", "pitted", "dimpled", "ridged", "grooved", "textured", "tweed", "lacy",
    "cable-knit", "paisley", "tartan", "gingham", "houndstooth", "wavy", "swirled",
)

TIMES: tuple[str, ...] = (
    "morning", "noon", "midday", "afternoon", "evening", "night", "nighttime", "midnight",
    "sunrise", "sunset", "dusk", "dawn", "twilight", "daytime", "daylight", "golden hour",
    "blue hour", "moonlight", "moonlit", "dark",
)
WEATHER: tuple[str, ...] = (
    "sunny", "sun", "rainy", "rain", "raining", "snowy", "snow", "snowing", "foggy", "fog",
    "misty", "mist", "cloudy", "clouds", "overcast", "stormy", "storm", "thunderstorm",
    "windy", "hazy", "haze", "drizzle", "drizzly", "hail", "frosty", "frost", "clear sky",
    "lightning", "blizzard", "rainbow",
)
SEASONS: tuple[str, ...] = ("spring", "summer", "autumn", "fall", "winter", "autumnal",
                            "wintry", "springtime", "summertime", "wintertime")
#: Eras and periods: the reference's tone_transfer also moves a scene in time
#: ("industrial-age", "medieval").
ERAS: tuple[str, ...] = (
    "industrial-age", "industrial", "medieval", "victorian", "futuristic", "prehistoric",
    "ancient", "renaissance", "baroque", "retro", "vintage", "1920s", "1950s", "1980s",
    "stone-age", "bronze-age", "iron-age", "colonial", "post-apocalyptic", "steampunk",
)
#: What a tone_transfer may change to: time of day, weather, season or era.
TONE_STATES: tuple[str, ...] = TIMES + WEATHER + SEASONS + ERAS

PEOPLE: tuple[str, ...] = (
    "person", "people", "man", "men", "woman", "women", "boy", "girl", "child", "children",
    "kid", "baby", "toddler", "player", "lady", "guy", "gentleman", "teenager", "teen",
    "adult", "worker", "chef", "cook", "doctor", "nurse", "soldier", "police", "officer",
    "policeman", "student", "teacher", "skier", "surfer", "skateboarder", "snowboarder",
    "rider", "biker", "cyclist", "pitcher", "batter", "catcher", "umpire", "tourist",
    "passenger", "driver", "farmer", "fisherman", "bride", "groom", "crowd", "family",
    "couple", "friend", "friends", "someone", "somebody", "human", "athlete", "dancer",
    "musician", "singer", "vendor", "customer", "pedestrian", "king", "queen", "princess",
    "prince", "grandmother", "grandfather", "mother", "father", "son", "daughter",
)

NUMBER_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
}
NUMBER_NAMES: dict[int, str] = {v: k for k, v in NUMBER_WORDS.items()}

#: Plurals that the ``s`` rule misses, mapped to their singular.
IRREGULAR_PLURALS: dict[str, str] = {
    "people": "person", "men": "man", "women": "woman", "children": "child", "mice": "mouse",
    "geese": "goose", "teeth": "tooth", "feet": "foot", "sheep": "sheep", "deer": "deer",
    "fish": "fish", "oxen": "ox", "knives": "knife", "leaves": "leaf", "loaves": "loaf",
    "wolves": "wolf", "shelves": "shelf", "calves": "calf", "halves": "half",
    "buses": "bus", "glasses": "glass", "boxes": "box", "benches": "bench",
    "dishes": "dish", "horses": "horse", "giraffes": "giraffe", "cakes": "cake",
    "vases": "vase", "skis": "ski", "zebras": "zebra", "slices": "slice",
}

#: Styles a ``style_change`` may ask for; a phrase that reads after "a" or "an".
STYLES: tuple[str, ...] = (
    "watercolor painting", "oil painting", "pencil sketch", "charcoal drawing",
    "woodblock print", "pixel art image", "low-poly 3D render", "claymation scene",
    "comic book panel", "pop art poster", "impressionist painting", "cubist painting",
    "art nouveau poster", "stained glass window", "mosaic", "paper cutout collage",
    "neon cyberpunk illustration", "vaporwave artwork", "ink wash painting", "line drawing",
    "blueprint drawing", "vintage sepia photograph", "infrared photograph",
    "chalk drawing on a blackboard", "embroidery", "graffiti mural", "baroque painting",
    "flat vector illustration", "isometric illustration", "pastel drawing",
    "children's crayon drawing", "linocut print", "marble sculpture", "origami model",
    "retro 1950s advertisement", "hand-drawn anime still",
)

#: Materials a ``material_transfer`` may take from a reference image.
TRANSFER_MATERIALS: tuple[str, ...] = (
    "wooden", "glass", "marble", "golden", "silver", "bronze", "copper", "stone", "brick",
    "ceramic", "porcelain", "paper", "cardboard", "plastic", "rubber", "leather", "velvet",
    "woolen", "wicker", "bamboo", "ice", "crystal", "jade", "concrete", "clay", "chrome",
    "denim", "lego",
)
