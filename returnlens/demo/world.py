"""The demo shop's world: calendar, catalogue, behaviour parameters and texts.

Everything the generator plants lives here as plain constants, so the ground truth can quote
them and a reader can see the whole simulated shop in one file.
"""

from __future__ import annotations

import numpy as np

from returnlens.ingest.contracts import CATEGORIES, REASON_CODES

# ---------------------------------------------------------------- calendar
PERIOD_START = "2025-11-01"  # first order (UTC)
PERIOD_END = "2026-11-01"  # exclusive: last order 2026-10-31 23:59:59
AS_OF = "2026-11-20"  # extract time: nothing later appears in any file
RETURN_WINDOW_DAYS = 30
SLOW_REFUND_DAYS = 14
PREMIUM_PRICE_EUR = 500

# base volumes at scale 1
CUSTOMERS_PER_SCALE = 20_000
ORDERS_PER_SCALE = 100_000
EXTRA_ITEMS_LAMBDA = 0.4  # items (distinct products) per order = 1 + min(Poisson(0.4), 4)
BROWSE_SESSIONS_PER_WEB_ORDER = 0.5

# demand by calendar month (index 0 = January) and weekday (0 = Monday)
MONTH_DEMAND = np.array([1.0, 0.8, 0.9, 1.0, 1.05, 1.0, 0.9, 0.85, 0.95, 1.0, 1.25, 1.35])
WEEKDAY_DEMAND = np.array([1.05, 1.0, 1.0, 0.98, 0.95, 0.9, 1.12])
SPECIAL_DAYS = (  # Black Friday / Cyber Monday and Christmas
    ("2025-11-28", 2.6),
    ("2025-11-29", 1.8),
    ("2025-11-30", 1.6),
    ("2025-12-01", 2.0),
    ("2025-12-24", 0.6),
    ("2025-12-25", 0.5),
    ("2025-12-26", 0.7),
    ("2026-11-27", 2.6),
    ("2026-11-30", 2.0),
)
HOUR_DEMAND = np.array(
    [
        *(0.3, 0.15, 0.1, 0.08, 0.08, 0.15, 0.4, 0.8, 1.0, 1.1, 1.15, 1.2),
        *(1.3, 1.25, 1.15, 1.1, 1.1, 1.2, 1.45, 1.7, 1.9, 1.8, 1.3, 0.7),
    ]
)

# category mix: base share x seasonal multiplier by calendar month (Jan..Dec)
CATEGORY_SHARE = {"apparel": 0.42, "shoes": 0.16, "home": 0.18, "garden": 0.10, "electronics": 0.14}
CATEGORY_SEASON = {
    "apparel": [0.9, 0.85, 1.15, 1.25, 1.0, 0.9, 0.85, 0.9, 1.2, 1.15, 1.3, 1.25],
    "shoes": [0.9, 0.9, 1.1, 1.15, 1.05, 1.0, 0.9, 0.9, 1.1, 1.1, 1.15, 1.1],
    "home": [0.9, 0.9, 0.95, 0.95, 0.95, 0.9, 0.9, 0.95, 1.0, 1.05, 1.2, 1.4],
    "garden": [0.3, 0.45, 1.0, 2.0, 2.4, 2.2, 1.8, 1.0, 0.7, 0.6, 0.35, 0.25],
    "electronics": [0.8, 0.85, 0.9, 0.9, 0.9, 0.9, 0.9, 0.95, 1.0, 1.0, 1.5, 1.6],
}
SEASONAL_CATEGORIES = ("apparel", "garden")

# return-probability seasonality: logit offsets by calendar month (Jan..Dec)
RETURN_SEASON = {
    "apparel": [0.3, 0.1, 0.0, 0.0, 0.0, -0.1, -0.15, -0.1, 0.0, 0.0, 0.1, 0.35],
    "garden": [-0.5, -0.5, -0.1, 0.4, 0.5, 0.5, 0.4, 0.0, -0.2, -0.4, -0.5, -0.5],
}

# calibrated target: mean return probability of a line (non-abusers) per category
BASE_RETURN_RATE = {
    "apparel": 0.30,
    "shoes": 0.25,
    "home": 0.08,
    "garden": 0.05,
    "electronics": 0.07,
}

# ---------------------------------------------------------------- catalogue
SIZES = {
    "apparel": ("XS", "S", "M", "L", "XL", "XXL"),
    "shoes": tuple(str(s) for s in range(36, 47)),
}
SIZE_PROBS = {
    "apparel": np.array([0.08, 0.2, 0.3, 0.24, 0.12, 0.06]),
    "shoes": np.array([0.03, 0.06, 0.1, 0.13, 0.14, 0.13, 0.12, 0.11, 0.09, 0.06, 0.03]),
}
ONE_SIZE = "one-size"
SKU_PREFIX = {"apparel": "AP", "shoes": "SH", "home": "HO", "garden": "GA", "electronics": "EL"}
MAX_COLOURS = {"apparel": 3, "shoes": 2, "home": 3, "garden": 2, "electronics": 3}
COLOURS = (
    ("BLK", "black"),
    ("WHT", "white"),
    ("NVY", "navy"),
    ("GRY", "grey"),
    ("BEI", "beige"),
    ("GRN", "green"),
    ("RED", "red"),
    ("BLU", "blue"),
    ("BRN", "brown"),
    ("PNK", "pink"),
    ("OLV", "olive"),
    ("TER", "terracotta"),
)

# (category, subcategory, products, median list price EUR, price sigma, weight g, nouns)
SUBCATEGORIES = (
    ("apparel", "dresses", 30, 60, 0.35, 450, ("jurk", "maxi-jurk", "zomerjurk")),
    ("apparel", "shirts", 30, 35, 0.3, 250, ("overhemd", "blouse", "t-shirt")),
    ("apparel", "trousers", 25, 55, 0.3, 550, ("broek", "jeans", "chino")),
    ("apparel", "jackets", 20, 110, 0.4, 1100, ("jas", "parka", "blazer")),
    ("apparel", "knitwear", 25, 65, 0.3, 600, ("trui", "vest", "cardigan")),
    ("shoes", "sneakers", 22, 90, 0.3, 900, ("sneaker", "hardloopschoen")),
    ("shoes", "boots", 16, 130, 0.3, 1400, ("laars", "enkellaars")),
    ("shoes", "sandals", 12, 55, 0.3, 600, ("sandaal", "slipper")),
    ("home", "ceramics", 25, 30, 0.45, 900, ("vaas", "mok", "schaal", "bord")),
    ("home", "glass", 20, 25, 0.45, 700, ("glazenset", "karaf", "windlicht")),
    ("home", "textiles", 45, 40, 0.45, 800, ("plaid", "kussen", "dekbedovertrek", "theedoek")),
    ("garden", "planters", 20, 35, 0.5, 2500, ("plantenbak", "bloempot")),
    ("garden", "tools", 20, 30, 0.45, 1200, ("snoeischaar", "schep", "hark", "gieter")),
    ("garden", "furniture", 15, 220, 0.45, 12000, ("loungeset", "tuinstoel", "tuintafel")),
    ("garden", "seasonal_bulbs", 15, 12, 0.35, 400, ("tulpenbollen", "krokusbollen")),
    ("electronics", "headphones", 18, 120, 0.6, 300, ("koptelefoon", "oordopjes")),
    ("electronics", "speakers", 14, 150, 0.6, 1200, ("speaker", "soundbar")),
    ("electronics", "smartwatches", 14, 280, 0.45, 150, ("smartwatch", "sporthorloge")),
    ("electronics", "cameras", 14, 650, 0.4, 700, ("systeemcamera", "compactcamera")),
)
FRAGILE_SUBCATEGORIES = ("ceramics", "glass")
# product demand by calendar month for strongly seasonal subcategories (Jan..Dec)
SUBCATEGORY_SEASON = {
    "seasonal_bulbs": [0.2, 0.4, 0.8, 0.6, 0.2, 0.1, 0.1, 0.6, 2.5, 3.0, 2.0, 0.5],
    "furniture": [0.2, 0.3, 0.8, 1.5, 2.0, 1.8, 1.2, 0.7, 0.4, 0.3, 0.2, 0.2],
}
ADJECTIVES = (
    "Klassieke",
    "Moderne",
    "Lichte",
    "Stevige",
    "Zachte",
    "Slanke",
    "Robuuste",
    "Elegante",
    "Compacte",
    "Ruime",
)

# suppliers per category
SUPPLIERS_PER_CATEGORY = {"apparel": 7, "shoes": 4, "home": 5, "garden": 4, "electronics": 5}
DEFAULT_SUPPLIERS = sum(SUPPLIERS_PER_CATEGORY.values())
# another supplier count (generate(suppliers=n)) is spread over the categories in the proportions
# above; a category gets more products (same subcategory mix) when it would have fewer than this
# many per supplier, and every supplier sells at least one product
MIN_PRODUCTS_PER_SUPPLIER = 2
SUPPLIER_SUFFIX = {
    "apparel": ("Textiel B.V.", "Fashion GmbH", "Confecções Lda", "Tekstil A.S."),
    "shoes": ("Schoenen B.V.", "Calzature S.r.l.", "Shoes Lda"),
    "home": ("Wonen B.V.", "Keramik GmbH", "Home Goods Ltd"),
    "garden": ("Tuin B.V.", "Garten GmbH", "Bloembollen B.V."),
    "electronics": ("Electronics Ltd", "Audio GmbH", "Tech Co. Ltd"),
}
SUPPLIER_COUNTRIES = {
    "apparel": ("PT", "TR", "IT", "NL", "BD"),
    "shoes": ("PT", "IT", "ES"),
    "home": ("NL", "DE", "PL", "PT"),
    "garden": ("NL", "DE", "BE"),
    "electronics": ("CN", "TW", "DE", "KR"),
}
SUPPLIER_EFFECT_SD = 0.2  # logit sd of the supplier's return propensity
N_SMALL_SIZING_SUPPLIERS = 2  # apparel suppliers whose sizes run small
SMALL_SIZING_LOGIT = 0.45
SMALL_SIZING_TOO_SMALL_WEIGHT = 8.0  # multiplier of the SIZE_TOO_SMALL reason weight

# production batches
BATCH_GAP_DAYS = (42, 70)  # a new batch every 6-10 weeks
N_DEFECTIVE_BATCHES = 3
DEFECTIVE_BATCH_LOGIT = 2.5

# ---------------------------------------------------------------- customers
COUNTRY_SHARE = {"NL": 0.6, "BE": 0.2, "DE": 0.2}
ABUSER_SHARE = 0.005
ABUSER_RETURN_PROB = 0.78
ABUSER_ACTIVITY = 2.0  # abusers order twice as often
CHANNEL_SHARE = {"web": 0.55, "app": 0.35, "marketplace": 0.10}
DEVICE_SHARE_WEB = {"desktop": 0.45, "mobile": 0.45, "tablet": 0.10}
DEVICE_SHARE_APP = {"desktop": 0.0, "mobile": 0.85, "tablet": 0.15}
TRAFFIC_SHARE = {
    "direct": 0.3,
    "organic_search": 0.25,
    "paid_search": 0.15,
    "social": 0.1,
    "email": 0.12,
    "affiliate": 0.08,
}
EMAIL_DOMAINS = ("mail.example.nl", "mail.example.be", "mail.example.de", "example.com")

# ---------------------------------------------------------------- orders
DELIVERY_DAYS = (np.array([1, 2, 3, 4]), np.array([0.25, 0.4, 0.25, 0.1]))
LOST_PARCEL_SHARE = 0.003  # no delivered_at
BRACKET_PROB = 0.10  # apparel/shoes items ordered in 2-3 sizes
BRACKET_SIZES = (np.array([2, 3]), np.array([0.75, 0.25]))
QUANTITY = {
    "apparel": (np.array([1, 2]), np.array([0.93, 0.07])),
    "shoes": (np.array([1, 2]), np.array([0.96, 0.04])),
    "home": (np.array([1, 2, 3, 4]), np.array([0.6, 0.25, 0.1, 0.05])),
    "garden": (np.array([1, 2, 3, 5]), np.array([0.55, 0.25, 0.12, 0.08])),
    "electronics": (np.array([1, 2]), np.array([0.97, 0.03])),
}
DISCOUNT_PCTS = np.array([0.10, 0.15, 0.20, 0.25, 0.30])
DISCOUNT_PROB_BY_MONTH = np.array(
    [0.35, 0.15, 0.12, 0.12, 0.12, 0.15, 0.3, 0.2, 0.12, 0.12, 0.3, 0.2]
)

# ---------------------------------------------------------------- hesitation
LOGD_MU = {"apparel": 1.6, "shoes": 1.6, "home": 1.4, "garden": 1.2, "electronics": 2.0}
LOGD_SD = 0.85  # log10 minutes from first product view to purchase
DECISION_MIN_S = 120
DECISION_MAX_S = 30 * 86_400
SESSION_SPAN_S = 3_600  # decisions up to an hour happen inside the purchase session
VIEW_LAMBDA = (0.25, 0.55)  # extra views ~ Poisson(a + b * log10 minutes)
VIEW_CAP = 15
SIZE_GUIDE_PROB = 0.3
REMOVE_FROM_CART_PROB = 0.08
BETA = {
    "log10_decision_minutes": 0.5,
    "extra_views": 0.12,
    "size_guide": -0.4,
    "bracketing": 1.6,
    "fragile": 0.3,
    "premium": 0.2,
}

# ---------------------------------------------------------------- returns
RESOLUTION_SHARE = {"refund": 0.70, "exchange": 0.15, "store_credit": 0.10, "keep_it": 0.05}
REQUEST_DELAY_GAMMA = (1.6, 5.0)  # days after delivery, capped at the 30-day window
ABUSER_REQUEST_DELAY_DAYS = 3
RECEIVE_DAYS = (2.0, 10.0)
INSPECT_MAX_DAYS = 5.0
REFUND_MAX_DAYS = 10.0
SLOW_REFUND_SHARE = 0.12
SLOW_REFUND_DAYS_RANGE = (14.0, 35.0)

R = {code: i for i, code in enumerate(REASON_CODES)}
# base reason mix by category (order of REASON_CODES)
REASON_MIX = {
    "apparel": [0.10, 0.20, 0.06, 0.03, 0.18, 0.04, 0.27, 0.05, 0.07],
    "shoes": [0.14, 0.16, 0.08, 0.03, 0.17, 0.04, 0.26, 0.05, 0.07],
    "home": [0.0, 0.0, 0.10, 0.12, 0.25, 0.08, 0.33, 0.07, 0.05],
    "garden": [0.0, 0.0, 0.15, 0.10, 0.25, 0.07, 0.30, 0.08, 0.05],
    "electronics": [0.0, 0.0, 0.35, 0.08, 0.20, 0.05, 0.25, 0.03, 0.04],
}
BRACKET_SIZE_WEIGHT = 3.0
FRAGILE_DAMAGE_WEIGHT = 8.0
DEFECT_REASONS = {"DEFECTIVE": 0.75, "DAMAGED_IN_TRANSIT": 0.15, "NOT_AS_DESCRIBED": 0.10}
DEFECT_REASON_SHARE = 0.85
ABUSER_REASON_WEIGHT = {"CHANGED_MIND": 3.0, "NOT_AS_DESCRIBED": 2.0, "OTHER": 2.0}

CONDITION_NORMAL = {"as_new": 0.55, "opened": 0.40, "worn": 0.04, "empty_box": 0.01}
CONDITION_DAMAGE = {"damaged": 0.85, "opened": 0.15}
CONDITION_ABUSER = {"as_new": 0.10, "opened": 0.25, "worn": 0.45, "empty_box": 0.20}
REASON_TEXT_EMPTY = 0.12

REASON_TEXTS = {
    "SIZE_TOO_SMALL": (
        "te klein",
        "valt klein",
        "too small",
        "past niet, te klein",
        "kleiner dan verwacht",
        "runs small",
        "maat valt erg klein",
        "size too small",
    ),
    "SIZE_TOO_LARGE": (
        "te groot",
        "valt groot",
        "too big",
        "too large",
        "past niet",
        "veel te ruim",
        "runs large",
    ),
    "DEFECTIVE": (
        "defect",
        "werkt niet",
        "kapot",
        "doesn't work",
        "stopped working after two days",
        "gaat niet aan",
        "naad los",
        "broken zipper",
    ),
    "DAMAGED_IN_TRANSIT": (
        "kapot aangekomen",
        "arrived broken",
        "beschadigd bezorgd",
        "doos was kapot",
        "arrived damaged",
        "gebroken bij levering",
        "scherven in de doos",
    ),
    "NOT_AS_DESCRIBED": (
        "niet zoals beschreven",
        "kleur wijkt af",
        "not as described",
        "ziet er anders uit dan op de foto",
        "looks different from the pictures",
        "kwaliteit valt tegen",
        "poor quality",
    ),
    "WRONG_ITEM": (
        "verkeerd artikel",
        "wrong item",
        "verkeerde maat geleverd",
        "wrong colour sent",
        "verkeerde kleur ontvangen",
    ),
    "CHANGED_MIND": (
        "bedacht me",
        "changed my mind",
        "niet meer nodig",
        "no longer needed",
        "toch niet mooi",
        "found it cheaper elsewhere",
        "elders goedkoper",
    ),
    "LATE_DELIVERY": (
        "te laat geleverd",
        "arrived too late",
        "levering duurde te lang",
        "too late for the party",
    ),
    "OTHER": ("anders", "other", "cadeau, niet gewenst", "unwanted gift", "dubbel besteld"),
}

# ---------------------------------------------------------------- surveys
POST_DELIVERY_SHARE = 0.08
POST_RETURN_SHARE = 0.25
SCORE_MEAN_DELIVERY = 8.2
SCORE_MEAN_RETURN = 8.0
SCORE_SD = 1.5
LATE_DELIVERY_PENALTY = 1.0  # delivered after 4 days
SLOW_REFUND_PENALTY = 3.2  # planted score penalty when the refund took > 14 days from request
RATING_NULL_SHARE = 0.04
COMMENT_SHARE = 0.35
COMMENTS = {
    "detractor": (
        "Wacht nog steeds op mijn geld",
        "Refund took forever",
        "Terugbetaling duurde veel te lang",
        "Slechte communicatie",
        "Never again",
        "Klantenservice reageert niet",
    ),
    "passive": ("Was ok", "Prima, maar het kon sneller", "Decent", "Redelijk", "Fine"),
    "promoter": (
        "Snelle levering, top!",
        "Great service",
        "Prima geregeld",
        "Retour ging heel makkelijk",
        "Easy return, quick refund",
    ),
}

# ---------------------------------------------------------------- forecasts
FORECAST_WEEKS = 6
FORECAST_NOISE_SD = 0.12  # lognormal noise per sku-week

# ---------------------------------------------------------------- dirty mode
DIRTY = {
    "duplicate_row_share": 0.005,
    "orphan_return_share": 0.003,
    "reason_code_blank_share": 0.05,
    "reason_text_variant_share": 0.10,
    "optional_null_share": 0.05,
}

assert tuple(CATEGORY_SHARE) == CATEGORIES

# ---------------------------------------------------------------- other shops (generate --profile)
# A shop profile (returnlens.yml) gives the shop's own categories, countries and channels; each
# is written under its own name and behaves like one of the demo's archetypes above (a category
# like apparel, shoes, home, garden or electronics; a channel like web, app or marketplace).
# A category named like an archetype is that archetype; the others take the least-used archetype
# (so a shop with five or more categories has every planted signal), ties broken by these words
# and the archetype's subcategory names. A channel takes the archetype its words name (marketplace
# stands for every channel without a web session: marketplaces, phone, sales reps), else the
# least-used one.
CATEGORY_WORDS = {
    "apparel": ("clothing", "fashion", "wear", "kids", "sport", "lingerie"),
    "shoes": ("footwear", "shoe", "boot", "sneaker"),
    "home": ("living", "kitchen", "interior", "decor", "bath", "bed", "lighting"),
    "garden": ("outdoor", "plant", "diy", "tool", "furniture"),
    "electronics": ("tech", "audio", "computer", "phone", "gaming", "office", "appliance"),
}
CHANNEL_WORDS = {
    "web": ("web", "online", "site", "shop"),
    "app": ("app", "mobile", "ios", "android"),
    "marketplace": (
        "market",
        "amazon",
        "bol",
        "zalando",
        "partner",
        "phone",
        "call",
        "sales",
        "b2b",
        "edi",
        "store",
        "retail",
        "email",
        "fax",
    ),
}
# the demo's limits (profiles/demo.yml): a profile's larger limits scale quantities and prices up
DEMO_MAX_QUANTITY = 50
DEMO_MAX_ORDER_TOTAL = 50_000
# a profile allowing k times the demo's quantity orders bulk lines: a share 0.025 * k (at most
# BULK_SHARE_MAX) of the lines has a log-uniform quantity from 2 to the profile's max_quantity
BULK_SHARE_PER_RATIO = 0.025
BULK_SHARE_MAX = 0.25
# order lines per order at most (items 1 + 4, each bracketed in up to 3 sizes): a list price is
# capped at max_order_total / MAX_LINES_PER_ORDER so every order fits the limit
MAX_LINES_PER_ORDER = 15
# names and addresses of customers come from this Faker locale (else the first one of the country)
COUNTRY_LOCALE = {"NL": "nl_NL", "BE": "nl_BE", "DE": "de_DE", "GB": "en_GB", "US": "en_US"}
FALLBACK_LOCALE = "en_US"
# phone numbers: '+<code> ' and 8 digits; a country not listed gets no phone numbers
CALLING_CODE = {
    "AT": "43",
    "BE": "32",
    "CH": "41",
    "CZ": "420",
    "DE": "49",
    "DK": "45",
    "EE": "372",
    "ES": "34",
    "FI": "358",
    "FR": "33",
    "GB": "44",
    "IE": "353",
    "IS": "354",
    "IT": "39",
    "LT": "370",
    "LU": "352",
    "LV": "371",
    "NL": "31",
    "NO": "47",
    "PL": "48",
    "PT": "351",
    "SE": "46",
    "US": "1",
}
