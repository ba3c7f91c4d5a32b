"""Regenerates daily_temperature.csv: a synthetic but realistic daily mean air temperature series
for a temperate mid-latitude city, 2015-2022 (deterministic: seed 2015).

Annual cycle (coldest in mid-January, warmest in mid-July), a slow warming trend, weather
anomalies that persist for days (AR(1), phi 0.75) and are larger in winter, and a few missing
days. Run: python make_daily_temperature.py
"""

import numpy as np
import pandas as pd

rng = np.random.default_rng(2015)
dates = pd.date_range("2015-01-01", "2022-12-31", freq="D")
t = np.arange(len(dates))
doy = dates.day_of_year.to_numpy()
season = np.sin(2 * np.pi * (doy - 105) / 365.25)
mean = 10.8 + 10.5 * season + 0.03 * t / 365.25
spread = 2.6 - 0.8 * season  # winter weather varies more
anomaly = np.zeros(len(t))
for i in range(1, len(t)):
    anomaly[i] = 0.75 * anomaly[i - 1] + rng.normal(0, 1)
anomaly *= np.sqrt(1 - 0.75**2)
temperature = np.round(mean + spread * 1.6 * anomaly, 1).astype(object)
temperature[rng.choice(len(t), 12, replace=False)] = ""  # sensor gaps
pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "temperature": temperature}).to_csv(
    "daily_temperature.csv", index=False
)
