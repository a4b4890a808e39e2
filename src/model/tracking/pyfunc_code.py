"""MLflow models-from-code entry: the pyfunc class that loads a logged innoscore model."""
import mlflow

from innoscore.model.tracking.pyfunc import PDModel

mlflow.models.set_model(PDModel())
