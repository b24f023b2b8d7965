"""The 64 emoji of the spec's SAS table (index -> symbol and name), as Element shows them.

The names are marked for translation so that an admin reads the words the person's
Element shows in the same language (Element translates them too).
"""

from __future__ import annotations

from commands.i18n import N_, _

# The Client-Server API's table "SAS method: emoji", in index order.
EMOJI: tuple[tuple[str, str], ...] = (
    ("🐶", N_("Dog")),
    ("🐱", N_("Cat")),
    ("🦁", N_("Lion")),
    ("🐎", N_("Horse")),
    ("🦄", N_("Unicorn")),
    ("🐷", N_("Pig")),
    ("🐘", N_("Elephant")),
    ("🐰", N_("Rabbit")),
    ("🐼", N_("Panda")),
    ("🐓", N_("Rooster")),
    ("🐧", N_("Penguin")),
    ("🐢", N_("Turtle")),
    ("🐟", N_("Fish")),
    ("🐙", N_("Octopus")),
    ("🦋", N_("Butterfly")),
    ("🌷", N_("Flower")),
    ("🌳", N_("Tree")),
    ("🌵", N_("Cactus")),
    ("🍄", N_("Mushroom")),
    ("🌏", N_("Globe")),
    ("🌙", N_("Moon")),
    ("☁️", N_("Cloud")),
    ("🔥", N_("Fire")),
    ("🍌", N_("Banana")),
    ("🍎", N_("Apple")),
    ("🍓", N_("Strawberry")),
    ("🌽", N_("Corn")),
    ("🍕", N_("Pizza")),
    ("🎂", N_("Cake")),
    ("❤️", N_("Heart")),
    ("😀", N_("Smiley")),
    ("🤖", N_("Robot")),
    ("🎩", N_("Hat")),
    ("👓", N_("Glasses")),
    ("🔧", N_("Spanner")),
    ("🎅", N_("Santa")),
    ("👍", N_("Thumbs Up")),
    ("☂️", N_("Umbrella")),
    ("⌛", N_("Hourglass")),
    ("⏰", N_("Clock")),
    ("🎁", N_("Gift")),
    ("💡", N_("Light Bulb")),
    ("📕", N_("Book")),
    ("✏️", N_("Pencil")),
    ("📎", N_("Paperclip")),
    ("✂️", N_("Scissors")),
    ("🔒", N_("Lock")),
    ("🔑", N_("Key")),
    ("🔨", N_("Hammer")),
    ("☎️", N_("Telephone")),
    ("🏁", N_("Flag")),
    ("🚂", N_("Train")),
    ("🚲", N_("Bicycle")),
    ("✈️", N_("Aeroplane")),
    ("🚀", N_("Rocket")),
    ("🏆", N_("Trophy")),
    ("⚽", N_("Ball")),
    ("🎸", N_("Guitar")),
    ("🎺", N_("Trumpet")),
    ("🔔", N_("Bell")),
    ("⚓", N_("Anchor")),
    ("🎧", N_("Headphones")),
    ("📁", N_("Folder")),
    ("📌", N_("Pin")),
)


def emoji_line(indices: tuple[int, ...]) -> str:
    """`🐶 Dog · 🔑 Key · …` in the current language."""
    return " · ".join(f"{EMOJI[i][0]} {_(EMOJI[i][1])}" for i in indices)
