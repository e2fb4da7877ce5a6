"""The default training photo sources: openly licensed real photographs that package registries ship.

Feed-forward style networks train on random crops of these when no photo folder is given. Each entry is
(path, licence, attribution):

- path: a file, folder or glob. For pip packages it is relative to site-packages (scikit-image, scikit-learn); for
  Debian packages it is an absolute path under /usr/share (mate-backgrounds, plasma-workspace-wallpapers,
  lomiri-wallpapers-16.04, lomiri-wallpapers-20.04).
- licence: an SPDX id. ``LicenseRef-public-domain`` means a public-domain statement, not a licence.
- attribution: the credit line to record. CC BY, CC BY-SA, GPL and LGPL require it; for CC0 and public-domain
  photos it is a courtesy.

Only photos checked by eye are listed. Drawings, abstract art, textures, pictures under 256 px on the short side and
files with an unclear licence are left out. models/training-data.md documents each source, the exact licence wording
and every excluded file. The entries name single files because the Plasma wallpaper folders also hold symlinks to
the same picture and 400 px previews, and /usr/share/backgrounds holds non-photos too.
"""

PHOTO_SOURCES: tuple[tuple[str, str, str], ...] = (
    # scikit-image 0.26.0 (pip): licence wording in each loader's docstring, skimage/data/_fetchers.py.
    ("skimage/data/astronaut.png", "LicenseRef-public-domain", "Eileen Collins, NASA (scikit-image data.astronaut)"),
    ("skimage/data/chelsea.png", "CC0-1.0", "Stefan van der Walt (scikit-image data.chelsea)"),
    (
        "skimage/data/coffee.png",
        "CC0-1.0",
        "Rachel Michetti, courtesy of Pikolo Espresso Bar (scikit-image data.coffee)",
    ),
    (
        "skimage/data/rocket.jpg",
        "LicenseRef-public-domain",
        "SpaceX, DSCOVR launch on Falcon 9 (scikit-image data.rocket)",
    ),
    ("skimage/data/camera.png", "CC0-1.0", "Lav Varshney (scikit-image data.camera; greyscale)"),
    # scikit-learn 1.9.1 (pip): sklearn/datasets/images/README.txt.
    (
        "sklearn/datasets/images/china.jpg",
        "CC-BY-2.0",
        "danielbuechele, https://www.flickr.com/photos/danielbuechele/6061409035/, CC BY 2.0",
    ),
    (
        "sklearn/datasets/images/flower.jpg",
        "CC-BY-2.0",
        "vultilion (the README names danielbuechele), https://www.flickr.com/photos/vultilion/6056698931/, CC BY 2.0",
    ),
    # lomiri-wallpapers-16.04 20.04.0-2 (Debian): per-file licences in /usr/share/doc/lomiri-wallpapers-16.04/copyright.
    ("/usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg", "CC-BY-SA-4.0", "Sander Klootwijk, 2018, CC BY-SA 4.0"),
    ("/usr/share/backgrounds/Dragonfly_by_Bolly.jpg", "CC-BY-SA-4.0", '"Bolly", 2018, CC BY-SA 4.0'),
    ("/usr/share/backgrounds/Picture_0B_by_freespace.jpg", "CC-BY-4.0", 'Trevor "Freespace", 2018, CC BY 4.0'),
    ("/usr/share/backgrounds/Picture_1A_by_freespace.jpg", "CC-BY-4.0", 'Trevor "Freespace", 2018, CC BY 4.0'),
    ("/usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg", "CC-BY-4.0", "Jakub Mede, 2018, CC BY 4.0"),
    ("/usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "Aitzol Berasategi, 2018, CC BY 4.0"),
    ("/usr/share/backgrounds/free_by_Peter_Nerlich.jpg", "CC-BY-SA-4.0", "Peter Nerlich, 2018, CC BY-SA 4.0"),
    ("/usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "Aitzol Berasategi, 2018, CC BY 4.0"),
    ("/usr/share/backgrounds/greentock_by_Peter_Nerlich.jpg", "CC-BY-SA-4.0", "Peter Nerlich, 2018, CC BY-SA 4.0"),
    ("/usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "Aitzol Berasategi, 2018, CC BY 4.0"),
    (
        "/usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg",
        "CC-BY-4.0",
        "Aitzol Berasategi, 2018, CC BY 4.0",
    ),
    ("/usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg", "CC0-1.0", "Clemens Engelhardt, 2018, CC0"),
    ("/usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "Aitzol Berasategi, 2018, CC BY 4.0"),
    # lomiri-wallpapers-20.04 20.04.0-2 (Debian): /usr/share/doc/lomiri-wallpapers-20.04/copyright.
    ("/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg", "CC-BY-SA-3.0", "Lukas Baubkus, 2021, CC BY-SA 3.0"),
    # mate-backgrounds 1.26.0-1 (Debian): per-file copyright in /usr/share/doc/mate-backgrounds/copyright, all GPL-2+.
    ("/usr/share/backgrounds/mate/nature/Aqua.jpg", "GPL-2.0-or-later", "Charles Barbin, 2008 (mate-backgrounds)"),
    (
        "/usr/share/backgrounds/mate/nature/Blinds.jpg",
        "GPL-2.0-or-later",
        "Lennart Poettering, Andrea Cimitan, 2008 (mate-backgrounds)",
    ),
    (
        "/usr/share/backgrounds/mate/nature/Dune.jpg",
        "GPL-2.0-or-later",
        "Marco Cogoni, 2007; Hylke Bons, 2008 (mate-backgrounds)",
    ),
    ("/usr/share/backgrounds/mate/nature/FreshFlower.jpg", "GPL-2.0-or-later", "Jens Ansorg, 2005 (mate-backgrounds)"),
    ("/usr/share/backgrounds/mate/nature/Garden.jpg", "GPL-2.0-or-later", "Charles Barbin, 2008 (mate-backgrounds)"),
    (
        "/usr/share/backgrounds/mate/nature/GreenMeadow.jpg",
        "GPL-2.0-or-later",
        "Timothy Schellhase, 2005; Lapo Calamandrei, 2008 (mate-backgrounds)",
    ),
    ("/usr/share/backgrounds/mate/nature/LadyBird.jpg", "GPL-2.0-or-later", "Charles Barbin, 2008 (mate-backgrounds)"),
    (
        "/usr/share/backgrounds/mate/nature/RainDrops.jpg",
        "GPL-2.0-or-later",
        '"blackcombwhistler07", 2008 (mate-backgrounds)',
    ),
    ("/usr/share/backgrounds/mate/nature/Storm.jpg", "GPL-2.0-or-later", "Sergey Nazarov, 2008 (mate-backgrounds)"),
    (
        "/usr/share/backgrounds/mate/nature/TwoWings.jpg",
        "GPL-2.0-or-later",
        "Charles Barbin, 2008; Hylke Bons, 2008 (mate-backgrounds)",
    ),
    (
        "/usr/share/backgrounds/mate/nature/Wood.jpg",
        "GPL-2.0-or-later",
        "Jean-François Fortin Tam, 2008 (mate-backgrounds)",
    ),
    (
        "/usr/share/backgrounds/mate/nature/YellowFlower.jpg",
        "GPL-2.0-or-later",
        "Charles Barbin, 2008 (mate-backgrounds)",
    ),
    # plasma-workspace-wallpapers 4:5.27.5-2 (Debian): licence and author from each wallpaper's metadata.json
    # ("LGPLv3"); Debian's copyright file puts the whole package under GPL-2+ (see models/training-data.md).
    (
        "/usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg",
        "LGPL-3.0-only",
        "Maciej Wiklo, By the water (KDE Plasma wallpapers)",
    ),
    (
        "/usr/share/wallpapers/ColdRipple/contents/images/2560x1600.jpg",
        "LGPL-3.0-only",
        "Risto Saukonpää, Cold Ripple (KDE Plasma wallpapers)",
    ),
    (
        "/usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg",
        "LGPL-3.0-only",
        "Dmitri Popov, Colorful Cups (KDE Plasma wallpapers)",
    ),
    (
        "/usr/share/wallpapers/DarkestHour/contents/images/2560x1600.jpg",
        "LGPL-3.0-only",
        "Risto Saukonpää, Darkest Hour (KDE Plasma wallpapers)",
    ),
    (
        "/usr/share/wallpapers/EveningGlow/contents/images/2560x1600.jpg",
        "LGPL-3.0-only",
        "Ian Hex, Evening Glow (KDE Plasma wallpapers)",
    ),
    (
        "/usr/share/wallpapers/FallenLeaf/contents/images/2560x1600.jpg",
        "LGPL-3.0-only",
        "Martin Klapetek, Fallen Leaf (KDE Plasma wallpapers)",
    ),
    (
        "/usr/share/wallpapers/Grey/contents/images/2560x1600.jpg",
        "LGPL-3.0-only",
        "Sigi Sagi, Grey (KDE Plasma wallpapers; greyscale)",
    ),
    (
        "/usr/share/wallpapers/Kite/contents/images/2560x1600.jpg",
        "LGPL-3.0-only",
        "Risto Saukonpää, Kite (KDE Plasma wallpapers)",
    ),
    (
        "/usr/share/wallpapers/OneStandsOut/contents/images/2560x1600.jpg",
        "LGPL-3.0-only",
        "Risto Saukonpää, One Stands Out (KDE Plasma wallpapers)",
    ),
    (
        "/usr/share/wallpapers/Path/contents/images/2560x1600.jpg",
        "LGPL-3.0-only",
        "Risto Saukonpää, Path (KDE Plasma wallpapers)",
    ),
    (
        "/usr/share/wallpapers/summer_1am/contents/images/2560x1600.jpg",
        "LGPL-3.0-only",
        "Risto Saukonpää, summer 1am (KDE Plasma wallpapers)",
    ),
)
