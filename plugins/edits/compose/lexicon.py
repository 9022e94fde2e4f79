"""What the rules path may name: known objects by class, and the closed lists of new values.

A small model choosing from a list names real things; asked to write a noun
phrase it writes "moonwalked". So every value the ``rules`` path puts into a
record comes from here: a caption object counts only when its head noun is a
known object (its class decides which edits fit it), and new objects,
colours, materials, textures, looks, actions, backgrounds and tones are drawn
from the lists below. The colour, material, texture and tone words are the
ones :mod:`..vocab` already uses for the checks, in the forms that read well
before a noun. All lists written for this project.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..prefilter import word_set

#: Known objects by class. A caption object is used only when its head noun is here.
CLASSES: Mapping[str, frozenset[str]] = {
    "person": word_set("""man woman boy girl child kid person lady guy player skier surfer
        skateboarder snowboarder cyclist rider chef baby tourist worker student farmer
        policeman soldier teenager toddler batter pitcher catcher umpire biker"""),
    "animal": word_set("""dog cat horse cow sheep bird elephant giraffe zebra bear pigeon duck
        goat pig rabbit squirrel deer puppy kitten seagull swan lion tiger monkey owl parrot
        chicken goose pony donkey fox"""),
    "vehicle": word_set("""car bus truck bicycle bike motorcycle train boat van taxi scooter
        airplane plane tractor kayak canoe sailboat ship jeep tram"""),
    "furniture": word_set("""chair couch sofa bench table bed desk stool armchair shelf cabinet
        dresser"""),
    "food": word_set("""sandwich pizza cake apple banana orange donut doughnut pickle burger
        hamburger salad carrot broccoli cookie pie bread croissant cupcake muffin"""),
    "container": word_set("""plate bowl cup mug vase bottle teapot pot pan basket jar box bag
        bucket tray"""),
    "thing": word_set("""umbrella lamp clock book laptop phone kite ball frisbee skateboard
        surfboard suitcase sign hydrant guitar candle mirror door fence tent statue fountain
        mailbox sculpture poster balloon helmet"""),
    "fabric": word_set("""pillow cushion blanket towel rug hat jacket scarf dress shirt shoe
        backpack banner sweater coat"""),
    "plant": word_set("tree flower plant bush palm cactus"),
}
#: Multi-word known objects, written as a caption writes them.
COMPOUNDS: frozenset[str] = frozenset({
    "fire hydrant", "teddy bear", "hot dog", "traffic light", "lamp post", "stop sign",
    "cell phone", "potted plant", "street sign", "parking meter", "coffee cup",
})
#: Things that stand outdoors: what is added beside them is found outdoors too.
OUTDOOR = word_set("hydrant sign fence statue fountain mailbox tent kite door bench")
#: Words that put a scene indoors, where there is no weather.
INDOORS = word_set("""room kitchen bathroom bedroom office restaurant store shop classroom
    library sofa couch bed windowsill living indoors inside hallway""")
#: Scenery: where things are, never an object to recolour, remove or replace.
SCENERY = word_set("""street road sidewalk field grass beach sand water ocean sea lake river
    harbor harbour park room kitchen city town area background sky snow yard garden forest
    mountain hill desert track court shore traffic floor ground wall building""")

#: Objects that can stand in for each other (replace): a noun is replaced only by another
#: of its group, so the rest of the caption still fits ("parked cars" -> "parked trucks").
SWAPS: tuple[tuple[str, ...], ...] = (
    ("car", "truck", "van", "taxi", "jeep", "bus"), ("bicycle", "bike", "motorcycle", "scooter"),
    ("boat", "ship", "canoe", "kayak", "sailboat"), ("train", "tram"),
    ("airplane", "plane", "helicopter"),
    ("dog", "cat", "puppy", "kitten", "rabbit", "fox", "goat", "sheep", "pig", "squirrel"),
    ("horse", "cow", "pony", "donkey", "deer", "zebra", "elephant", "giraffe", "bear", "lion",
     "tiger", "camel"),
    ("bird", "pigeon", "duck", "seagull", "swan", "owl", "parrot", "chicken", "goose", "crow"),
    ("chair", "couch", "sofa", "bench", "stool", "armchair"), ("table", "desk"),
    ("bed", "couch", "sofa"), ("shelf", "cabinet", "dresser"),
    ("sandwich", "burger", "hamburger", "pizza", "hot dog", "salad", "taco", "wrap"),
    ("apple", "banana", "orange", "pear", "peach", "lemon"), ("carrot", "broccoli", "cucumber"),
    ("cake", "donut", "doughnut", "cookie", "pie", "cupcake", "muffin", "croissant", "waffle"),
    ("cup", "mug", "teacup", "glass"), ("plate", "bowl", "tray"),
    ("vase", "jar", "pot"), ("bottle", "jar", "flask"), ("teapot", "kettle"),
    ("basket", "box", "bag", "bucket"),
    ("umbrella", "parasol"), ("kite", "balloon"), ("ball", "frisbee"), ("laptop", "tablet"),
    ("lamp", "candle", "lantern"), ("hat", "cap", "helmet"), ("backpack", "suitcase", "bag"),
    ("pillow", "cushion"), ("blanket", "towel", "rug"), ("clock", "mirror", "painting"),
    ("skateboard", "surfboard", "snowboard"), ("sign", "poster", "banner"),
    ("hydrant", "mailbox", "trash can"), ("fire hydrant", "mailbox", "trash can"),
    ("statue", "fountain", "sculpture"), ("tree", "bush", "palm tree"),
    ("flower", "plant", "cactus"), ("jacket", "sweater", "coat", "shirt"),
    ("dress", "skirt", "coat"), ("shoe", "boot", "sandal"), ("guitar", "violin"),
    ("phone", "camera"), ("tent", "hut"), ("fence", "hedge", "wall"), ("door", "gate"),
)
#: What may be added next to an object of each class: things found beside such objects.
ADD_NEAR: Mapping[str, tuple[str, ...]] = {
    "person": ("dog", "cat", "puppy", "kitten", "small dog", "bird"),
    "animal": ("bird", "dog", "puppy", "rabbit", "butterfly", "ball", "squirrel", "duck",
               "cat", "goat"),
    "vehicle": ("bicycle", "dog", "traffic cone", "bench", "lamp post", "motorcycle",
                "mailbox", "pigeon"),
    "furniture": ("lamp", "cat", "dog", "potted plant", "teddy bear", "book", "pillow",
                  "vase of flowers", "basket", "blanket"),
    "food": ("cup of coffee", "glass of water", "fork", "knife", "napkin", "apple",
             "bowl of fruit", "salt shaker", "spoon", "candle"),
    "container": ("cup of coffee", "glass of water", "fork", "spoon", "napkin", "apple",
                  "candle", "teapot", "book"),
    "thing": ("cat", "dog", "lamp", "potted plant", "book", "backpack", "bird", "candle"),
    "outdoor": ("dog", "cat", "bird", "pigeon", "bench", "bicycle", "traffic cone", "squirrel"),
    "fabric": ("cat", "book", "lamp", "teddy bear", "pair of glasses", "cup of coffee"),
    "plant": ("bird", "bench", "dog", "squirrel", "rabbit", "flower pot", "butterfly",
              "watering can"),
}

#: Colours that read before a noun ("a teal car"); a subset of :data:`..vocab.COLOURS`.
COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black",
           "white", "gray", "silver", "gold", "beige", "teal", "turquoise", "navy",
           "maroon", "magenta", "crimson", "lavender", "ivory", "olive", "lime", "indigo",
           "coral", "burgundy", "mint", "peach", "charcoal", "emerald", "bronze")
#: Materials as (noun said in the edit, adjective put before the object).
MATERIALS = (("wood", "wooden"), ("glass", "glass"), ("metal", "metal"), ("steel", "steel"),
             ("stone", "stone"), ("marble", "marble"), ("brick", "brick"),
             ("paper", "paper"), ("cardboard", "cardboard"), ("plastic", "plastic"),
             ("rubber", "rubber"), ("leather", "leather"), ("ceramic", "ceramic"),
             ("porcelain", "porcelain"), ("clay", "clay"), ("wool", "woolen"),
             ("velvet", "velvet"), ("bamboo", "bamboo"), ("wicker", "wicker"),
             ("ice", "ice"), ("crystal", "crystal"), ("gold", "golden"),
             ("silver", "silver"), ("bronze", "bronze"), ("copper", "copper"),
             ("concrete", "concrete"), ("chocolate", "chocolate"), ("denim", "denim"))
#: Textures and patterns that read before a noun; a subset of :data:`..vocab.TEXTURES`.
TEXTURES = ("striped", "dotted", "checkered", "plaid", "furry", "fluffy", "scaly",
            "spotted", "glossy", "matte", "rusty", "mossy", "cracked", "quilted", "knitted",
            "woven", "floral", "marbled", "speckled", "zigzag", "ribbed", "embroidered",
            "sequined", "tartan", "polka-dot", "camouflage", "feathered", "velvety")
#: Which materials and textures fit an object of each class (a "denim hydrant" does not).
MATERIALS_FOR: Mapping[str, frozenset[str]] = {
    "vehicle": word_set("wood glass gold silver paper cardboard plastic metal stone ice "
                        "chocolate bronze copper"),
    "furniture": word_set("wood glass metal steel stone marble wicker bamboo plastic leather "
                          "velvet concrete ice gold cardboard brick"),
    "container": word_set("glass ceramic porcelain wood metal plastic paper clay copper "
                          "silver gold crystal bamboo wicker steel stone ice"),
    "thing": word_set("wood glass metal plastic paper gold silver stone rubber cardboard "
                      "crystal ice bronze copper marble"),
    "fabric": word_set("leather denim velvet wool paper plastic rubber"),
    "plant": word_set("paper plastic glass gold stone crystal ice"),
}
TEXTURES_FOR: Mapping[str, frozenset[str]] = {
    "vehicle": word_set("rusty glossy matte striped camouflage polka-dot checkered mossy "
                        "speckled"),
    "furniture": word_set("striped checkered plaid quilted velvety woven floral polka-dot "
                          "cracked glossy matte marbled tartan"),
    "container": word_set("striped dotted checkered floral cracked glossy matte speckled "
                          "marbled zigzag polka-dot ribbed"),
    "thing": word_set("striped dotted checkered plaid floral glossy rusty polka-dot "
                      "camouflage zigzag mossy cracked matte"),
    "fabric": word_set("striped plaid floral checkered polka-dot knitted quilted embroidered "
                       "sequined tartan velvety furry woven camouflage"),
}
#: Colours that an animal can have.
ANIMAL_COLOURS = ("black", "white", "brown", "gray", "beige", "orange", "cream")

#: Materials that carry their own colour: they replace a colour word ("a golden book",
#: not "a blue golden book").
COLOURED_MATERIALS = frozenset({"gold", "silver", "bronze", "copper"})

#: Textures that are patterns ("a striped pattern"); the rest are surfaces ("a rusty finish").
PATTERNS = frozenset({"striped", "dotted", "checkered", "plaid", "spotted", "floral",
                      "zigzag", "tartan", "polka-dot", "camouflage", "speckled", "marbled"})
#: Looks by class (appearance_alter): no colour or material word, an adjective before the noun.
LOOKS: Mapping[str, tuple[str, ...]] = {
    "person": ("bearded", "elderly", "young", "tall", "soaking wet", "muddy", "tired"),
    "animal": ("tiny", "giant", "muddy", "soaking wet", "sleepy", "skinny", "chubby",
               "elderly"),
    "vehicle": ("dented", "brand-new", "vintage", "muddy", "battered", "tiny", "giant",
                "abandoned"),
    "furniture": ("broken", "antique", "worn", "tiny", "dusty", "brand-new", "wobbly"),
    "food": ("half-eaten", "burnt", "tiny", "giant", "steaming", "moldy", "sliced"),
    "container": ("chipped", "broken", "dusty", "tiny", "giant", "overflowing", "empty"),
    "fabric": ("torn", "worn", "faded", "crumpled", "wet", "brand-new", "tiny", "giant"),
    "thing": ("broken", "old", "worn", "dusty", "tiny", "giant", "glowing", "brand-new",
              "battered", "damaged"),
    "plant": ("wilted", "blooming", "bare", "tiny", "giant", "overgrown", "withered"),
}
#: Actions that fit a subject of the class (action_change); a present participle first.
ACTIONS: Mapping[str, tuple[str, ...]] = {
    "person": ("walking", "running", "standing", "sitting", "dancing", "jumping", "kneeling",
               "waving", "stretching", "crouching", "resting", "laughing", "clapping"),
    "animal": ("running", "walking", "sitting", "standing", "sleeping", "jumping", "lying down",
               "resting", "eating", "playing", "stretching", "rolling over"),
}
#: Classes whose members can do an action.
ANIMATE = ("person", "animal")

#: Backgrounds: (the new_background field, the phrase the output caption gets).
BACKGROUNDS = (
    ("sandy beach", "on a sandy beach"), ("snowy forest", "in a snowy forest"),
    ("busy city square", "in a busy city square"), ("desert", "in a desert"),
    ("mountain meadow", "in a mountain meadow"), ("rainforest", "in a rainforest"),
    ("quiet library", "in a quiet library"), ("farm field", "in a farm field"),
    ("rooftop garden", "in a rooftop garden"), ("lakeside dock", "on a lakeside dock"),
    ("cobblestone alley", "in a cobblestone alley"), ("wheat field", "in a wheat field"),
    ("snowy mountain", "on a snowy mountain"), ("city park", "in a city park"),
    ("tropical island", "on a tropical island"), ("old train station", "in an old train station"),
    ("art gallery", "in an art gallery"), ("cozy living room", "in a cozy living room"),
    ("flower garden", "in a flower garden"), ("rocky coastline", "on a rocky coastline"),
    ("space station", "on a space station"), ("underwater reef", "on an underwater reef"),
    ("autumn park", "in an autumn park"), ("night market", "at a night market"),
)

#: Tones: (the new_state field, the phrase the output caption ends with, its kind).
TONES = (
    ("night", "at night", "time"), ("sunset", "at sunset", "time"),
    ("sunrise", "at sunrise", "time"), ("dusk", "at dusk", "time"),
    ("dawn", "at dawn", "time"), ("midnight", "at midnight", "time"),
    ("morning", "in the early morning", "time"), ("evening", "in the evening", "time"),
    ("golden hour", "during golden hour", "time"), ("noon", "at noon", "time"),
    ("rain", "in the rain", "weather"), ("snow", "in falling snow", "weather"),
    ("fog", "in thick fog", "weather"), ("storm", "during a storm", "weather"),
    ("thunderstorm", "during a thunderstorm", "weather"),
    ("blizzard", "in a blizzard", "weather"), ("mist", "in the mist", "weather"),
    ("sunny", "on a sunny day", "weather"), ("overcast", "under an overcast sky", "weather"),
    ("winter", "in winter", "season"), ("summer", "in summer", "season"),
    ("autumn", "in autumn", "season"), ("spring", "in spring", "season"),
    ("medieval", "in medieval times", "era"), ("victorian", "in the Victorian era", "era"),
    ("1950s", "in the 1950s", "era"), ("1920s", "in the 1920s", "era"),
    ("futuristic", "in a futuristic era", "era"),
    ("prehistoric", "in prehistoric times", "era"),
)
#: Words that end a caption's own tone phrase ("at sunset", "in the snow"): it is swapped out.
TONE_WORDS = frozenset(t[0] for t in TONES) | word_set(
    "day daytime night nighttime snowfall daylight sunshine moonlight twilight rainy snowy")

#: New texts for a sign or a label (textual_change), by word count; the old text's case
#: style (upper, title, lower) is applied to the chosen one.
TEXTS: Mapping[int, tuple[str, ...]] = {
    1: ("open", "closed", "sale", "exit", "stop", "cafe", "bakery", "pizza", "hotel", "taxi",
        "welcome", "parking", "tickets", "sushi", "books", "flowers", "music", "library",
        "market", "garage", "diner", "pharmacy", "museum", "theater", "bistro", "noodles"),
    2: ("main street", "good morning", "fresh bread", "grand opening", "summer sale",
        "oak avenue", "happy birthday", "free parking", "winter nights", "ocean drive",
        "city library", "hot coffee", "night market", "open late", "quiet please",
        "river road", "green valley", "lucky star", "sunny days", "blue lagoon"),
    3: ("the hidden garden", "open all night", "fresh fish daily", "the silver moon",
        "best pizza ever", "the blue door", "happy new year", "home sweet home",
        "the last train", "fresh cut flowers", "the old mill", "cold drinks here"),
    4: ("the quiet little shop", "fresh bread baked daily", "the house of music",
        "coffee and fresh pastries", "the end of summer", "best tacos in town",
        "open seven days weekly", "the great green forest"),
}
