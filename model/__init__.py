"""betenet.model"""
