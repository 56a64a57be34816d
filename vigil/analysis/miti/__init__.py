"""MITI coding of counselor turns and the rubric measures scored from them."""
