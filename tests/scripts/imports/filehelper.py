NAME = "filehelper"
