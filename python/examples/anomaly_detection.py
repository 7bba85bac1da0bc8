"""Anomaly detection on a tabular dataset that ships with scikit-learn: the
Wisconsin breast cancer data (569 tumours, 30 features). The autoencoder
learns benign tumours only; malignant ones reconstruct worse. Its ROC AUC is
printed beside IsolationForest's, trained on the same rows, and then the
precision and recall of three threshold rules: a contamination guess (the
10% of training rows that reconstruct worst), and, with no guess, the
median training error plus 3 or 5 robust standard deviations (MAD).

    python python/examples/anomaly_detection.py
"""
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import IsolationForest
from sklearn.metrics import precision_score, recall_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import wgae

X, y = load_breast_cancer(return_X_y=True)  # y: 0 malignant, 1 benign
benign, malignant = X[y == 1], X[y == 0]
train, test_benign = train_test_split(benign, test_size=0.3, random_state=0)
X_test = np.vstack([test_benign, malignant])
is_anomaly = np.r_[np.zeros(len(test_benign)), np.ones(len(malignant))]

ae = make_pipeline(
    StandardScaler(),
    wgae.Autoencoder(hidden=(16, 4), epochs=300, batch_size=32, lr=3e-3, random_state=0),
).fit(train)
forest = make_pipeline(StandardScaler(), IsolationForest(random_state=0)).fit(train)

# score_samples: higher is more normal, so minus it ranks anomalies first.
auc_ae = roc_auc_score(is_anomaly, -ae.score_samples(X_test))
auc_forest = roc_auc_score(is_anomaly, -forest.score_samples(X_test))
flagged = (ae.predict(X_test) == -1)
print(f"trained on {len(train)} benign tumours; tested on {len(test_benign)} benign "
      f"and {len(malignant)} malignant ({wgae.devices()[0]['name']})")
print(f"ROC AUC: wgae autoencoder {auc_ae:.3f}, IsolationForest {auc_forest:.3f}")
print(f"predict() at contamination 0.1 flags {flagged[is_anomaly == 1].mean():.0%} of the "
      f"malignant and {flagged[is_anomaly == 0].mean():.0%} of the held-out benign tumours")

# The threshold rules, each set from the training rows' errors.
est, scaled_train = ae[-1], ae[0].transform(train)
print("rule              threshold  precision  recall")
for rule in (0.1, "mad:3", "mad:5"):
    est.set_params(contamination=rule).set_threshold(scaled_train)
    flagged = ae.predict(X_test) == -1
    print(f"{str(rule):16s}  {est.threshold_:9.4f}  {precision_score(is_anomaly, flagged):9.3f}"
          f"  {recall_score(is_anomaly, flagged):6.3f}")
