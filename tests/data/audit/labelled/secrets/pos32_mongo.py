from pymongo import MongoClient

client = MongoClient("mongodb+srv://reporter:@@secret-body@@@cluster0.x1y2z.mongodb.net/reports")
