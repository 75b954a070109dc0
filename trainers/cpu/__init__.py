"""GRPO through verl's own classes in one CPU process (`videostar train --cpu`)."""
