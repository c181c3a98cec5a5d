"""Model operations on reviewed flags: dataset export for retraining, goods-detector evaluation.
May import the rooms below it: rxaudit up to audit."""
