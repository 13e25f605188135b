from decimal import Decimal

import factory

from catalog.models import Category, Product


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"Juniper {n}")
    slug = factory.Sequence(lambda n: f"juniper-{n}")
    description = "A hardy tree."
    price = Decimal("25.00")
    currency = "usd"
    stock_quantity = 10
    is_active = True
